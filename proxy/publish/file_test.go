package publish

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSaveLoadAndWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	w, err := NewWatcher(path)
	if err != nil || len(w.Services()) != 0 {
		t.Fatalf("missing file: %v, %v", w.Services(), err)
	}
	s := []Service{{Ingress: "ingress", Name: "home", Port: 443}, {Ingress: "ingress", Name: "home", Port: 80, ProxyProtocol: true}}
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("after Save: changed %v, %v", changed, err)
	}
	Sort(s)
	if got := w.Services(); !reflect.DeepEqual(got, s) {
		t.Fatalf("Services = %v, want %v", got, s)
	}
	if changed, _ := w.ReloadIfChanged(); changed {
		t.Fatal("unchanged file reported changed")
	}
	if err := os.WriteFile(path, []byte("[[service]]\ningress = \"ingress\"\nname = \"Home\"\nport = 22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ReloadIfChanged(); err == nil || !strings.Contains(err.Error(), ":1: service[0]") {
		t.Fatalf("bad name: err = %v, want file:line: key", err)
	}
	if got := w.Services(); !reflect.DeepEqual(got, s) {
		t.Fatalf("bad file replaced the good services: %v", got)
	}
}

func TestLoadRefusesDuplicatesAndUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	dup := "[[service]]\ningress = \"i\"\nname = \"h\"\nport = 1\n[[service]]\ningress = \"i\"\nname = \"h\"\nport = 1\n"
	os.WriteFile(path, []byte(dup), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "service[0] already") {
		t.Fatalf("duplicate: err = %v", err)
	}
	os.WriteFile(path, []byte("[[service]]\ningres = \"i\"\n"), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "did you mean") {
		t.Fatalf("unknown key: err = %v", err)
	}
}
