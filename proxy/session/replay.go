package session

// replayWindow is a sliding window of received counters (RFC 6479): a ring
// of 64-bit blocks, one bit per counter, whose one spare block lets the
// window slide by zeroing whole blocks. It accepts each counter once, in any
// order, as long as it is no more than ReplayWindow behind the highest one
// seen. The caller holds the lock that guards it.
type replayWindow struct {
	last uint64 // highest counter accepted
	ring [replayBlocks]uint64
}

const (
	replayBlockShift = 6 // log2(replayBlockBits)
	replayBitMask    = replayBlockBits - 1
	replayBlockMask  = replayBlocks - 1
)

// check reports why counter n cannot be accepted (ErrExhausted, ErrTooOld,
// ErrReplay), or nil; it changes nothing, so it can run before the frame is
// authenticated.
func (w *replayWindow) check(n uint64) error {
	if n >= RejectAfterMessages {
		return ErrExhausted
	}
	if n > w.last {
		return nil
	}
	if w.last-n > ReplayWindow {
		return ErrTooOld
	}
	if w.ring[(n>>replayBlockShift)&replayBlockMask]&(1<<(n&replayBitMask)) != 0 {
		return ErrReplay
	}
	return nil
}

// accept records counter n of an authenticated frame. It checks again
// (another frame may have taken n since check) and returns the same errors.
func (w *replayWindow) accept(n uint64) error {
	if err := w.check(n); err != nil {
		return err
	}
	block := n >> replayBlockShift
	if n > w.last {
		cur := w.last >> replayBlockShift
		diff := min(block-cur, replayBlocks)
		for i := cur + 1; i <= cur+diff; i++ {
			w.ring[i&replayBlockMask] = 0
		}
		w.last = n
	}
	w.ring[block&replayBlockMask] |= 1 << (n & replayBitMask)
	return nil
}
