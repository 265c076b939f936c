package trust

import (
	"errors"
	"fmt"
	"time"
)

// SeenNonce is a nonce already used, with its claim's time.
type SeenNonce struct {
	Nonce string    `json:"nonce"`
	At    time.Time `json:"at"`
}

// NonceLog remembers the nonces of recent claims, so a proof counts once. It keeps only
// what could still be fresh (claims older than the window are refused as stale anyway),
// up to a cap. Plain data, in order: it travels in workflow state and replays the same.
type NonceLog []SeenNonce

// ErrReused means the nonce was used before: a replayed decision.
var ErrReused = errors.New("this signed decision was already used once: decide again")

// ErrNonceLogFull means too many fresh decisions arrived at once to remember them all.
var ErrNonceLogFull = errors.New("too many decisions within the freshness window: try again in a few minutes")

// Seen reports whether nonce was used.
func (l NonceLog) Seen(nonce string) bool {
	for _, s := range l {
		if s.Nonce == nonce {
			return true
		}
	}
	return false
}

// Record adds a nonce after dropping those older than window before now. It refuses a
// nonce already seen, and one that would grow the log past limit.
func (l NonceLog) Record(nonce string, at, now time.Time, window time.Duration, limit int) (NonceLog, error) {
	if l.Seen(nonce) {
		return l, ErrReused
	}
	kept := l[:0:0]
	for _, s := range l {
		if now.Sub(s.At) <= window {
			kept = append(kept, s)
		}
	}
	if len(kept) >= limit {
		return kept, fmt.Errorf("%w (%d in %s)", ErrNonceLogFull, len(kept), window)
	}
	return append(kept, SeenNonce{Nonce: nonce, At: at}), nil
}
