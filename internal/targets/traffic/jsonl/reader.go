package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
)

// maxLine is the longest line read; longer ones are skipped as malformed.
const maxLine = 4 << 20

// scanStats counts what a scan saw.
type scanStats struct {
	SourceBytes int64
	StartOffset int64
	Lines       int
	Malformed   int
}

// scan streams the log from about `from` (minus the slack) and calls fn for each record
// with its raw line (valid only during the call), until a record is later than until+slack or the file ends.
//
// Logs are appended in time order, give or take: a binary search over byte offsets finds
// where `from - slack` starts, so a snapshot of the last hour of a months-long log reads
// about an hour of it. Records out of order by more than the slack may be missed.
func (l *Log) scan(ctx context.Context, from, until time.Time, fn func(r *bundle.Record, raw []byte)) (scanStats, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return scanStats{}, ports.Permanentf("traffic log %s does not exist: check --traffic-log, and that the app writes its request log there", l.path)
	}
	if err != nil {
		return scanStats{}, fmt.Errorf("open traffic log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return scanStats{}, fmt.Errorf("stat traffic log: %w", err)
	}
	st := scanStats{SourceBytes: fi.Size()}
	var src io.Reader = f
	if fi.Mode().IsRegular() {
		if fi.Size() > l.searchAbove {
			if st.StartOffset, err = l.seekStart(f, fi.Size(), from.Add(-l.slack)); err != nil {
				return st, err
			}
		}
		if _, err := f.Seek(st.StartOffset, io.SeekStart); err != nil {
			return st, fmt.Errorf("seek traffic log: %w", err)
		}
		// Read only what the file held when the scan began: a retry sees the same lines
		// even while the app keeps appending.
		src = io.LimitReader(f, fi.Size()-st.StartOffset)
	}
	// Not a regular file (a named pipe from a log shipper): stream it to the end.
	lines := newLineReader(src)
	if st.StartOffset > 0 {
		lines.skipPartial()
	}
	stopAfter := until.Add(l.slack)
	for {
		if st.Lines%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		raw, ok, err := lines.next()
		if err != nil {
			return st, fmt.Errorf("read traffic log: %w", err)
		}
		if !ok {
			return st, nil
		}
		if raw == nil { // longer than maxLine
			st.Lines++
			st.Malformed++
			continue
		}
		line := bytes.TrimSpace(raw)
		if len(line) == 0 {
			continue
		}
		st.Lines++
		r, err := bundle.ParseRecord(line)
		if err != nil {
			st.Malformed++
			continue
		}
		if r.Time.After(stopAfter) {
			return st, nil
		}
		fn(&r, line)
	}
}

// seekStart finds an offset at or before the first line with time >= from.
func (l *Log) seekStart(f *os.File, size int64, from time.Time) (int64, error) {
	lo, hi := int64(0), size
	for hi-lo > 64<<10 {
		mid := lo + (hi-lo)/2
		t, ok, err := firstTimeAfter(f, mid, hi)
		if err != nil {
			return 0, err
		}
		if !ok || !t.Before(from) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return lo, nil
}

// firstTimeAfter reads the time of the first parseable whole line starting after off
// (and before limit).
func firstTimeAfter(f *os.File, off, limit int64) (time.Time, bool, error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return time.Time{}, false, err
	}
	lines := newLineReader(io.LimitReader(f, limit-off+maxLine))
	lines.skipPartial()
	for tries := 0; tries < 64; tries++ {
		line, ok, err := lines.next()
		if err != nil || !ok {
			return time.Time{}, false, err
		}
		if line == nil {
			continue
		}
		var head struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(line, &head) == nil && !head.Time.IsZero() {
			return head.Time, true, nil
		}
	}
	return time.Time{}, false, nil
}

// lineReader yields lines of any length up to maxLine; a longer line comes back as nil
// (to be counted as malformed) without being held in memory.
type lineReader struct {
	r   *bufio.Reader
	buf []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10)}
}

func (l *lineReader) skipPartial() {
	for {
		_, err := l.r.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return
		}
	}
}

// next returns the next line (nil if it was too long) and ok=false at the end.
func (l *lineReader) next() ([]byte, bool, error) {
	l.buf = l.buf[:0]
	tooLong := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !tooLong {
			if len(l.buf)+len(chunk) > maxLine {
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(l.buf) == 0 && !tooLong {
				return nil, false, nil
			}
		case err != nil:
			return nil, false, err
		}
		if tooLong {
			return nil, true, nil
		}
		return l.buf, true, nil
	}
}
