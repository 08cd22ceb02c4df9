package cmsg

import (
	"bytes"
	"testing"
)

func TestPutFind(t *testing.T) {
	b := make([]byte, 3*Space(16))
	first := Put(b, 0, 8, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	second := Put(b[len(first):], 17, 104, []byte{0xdc, 0x05, 0, 0})
	oob := b[:len(first)+len(second)]
	if d, ok := Find(oob, 17, 104); !ok || !bytes.Equal(d, []byte{0xdc, 0x05, 0, 0}) {
		t.Errorf("second: %x %v", d, ok)
	}
	if d, ok := Find(oob, 0, 8); !ok || len(d) != 12 || d[11] != 12 {
		t.Errorf("first: %x %v", d, ok)
	}
	if _, ok := Find(oob, 17, 103); ok {
		t.Error("found a message that is not there")
	}
}

func TestMalformed(t *testing.T) {
	b := Put(make([]byte, Space(4)), 17, 104, []byte{1, 2, 3, 4})
	for _, bad := range [][]byte{nil, b[:headerLen-1], b[:len(b)-5]} {
		if _, ok := Find(bad, 17, 104); ok {
			t.Errorf("found in %x", bad)
		}
	}
	huge := bytes.Clone(b)
	huge[0] = 0xff
	if _, ok := Find(huge, 17, 104); ok {
		t.Error("found in a message longer than its buffer")
	}
}

func FuzzFind(f *testing.F) {
	f.Add(Put(make([]byte, Space(4)), 17, 104, []byte{1, 2, 3, 4}), 17, 104)
	f.Fuzz(func(t *testing.T, oob []byte, level, typ int) {
		if d, ok := Find(oob, level, typ); ok && len(d) > len(oob) {
			t.Fatal("data longer than the buffer")
		}
	})
}
