package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger routes the Temporal server's logs to slog. The server is chatty at INFO
// (every shard, queue and poller says hello), so records below minLevel are dropped
// before any tag is converted.
type serverLogger struct {
	logger   *slog.Logger
	minLevel slog.Leveler
	tags     []tag.Tag // prepended by With
	// stopping is set when Stop begins: the services then lose their connections to each
	// other and cancel their requests, which is expected (see expected).
	stopping *atomic.Bool
}

// ignoredWarnings are warnings that are true of every embedded server and say nothing to
// a quench user.
var ignoredWarnings = map[string]bool{
	// We do not serve Nexus endpoints.
	"HTTP API port has not been set. Nexus HTTP endpoints will not be available. To enable Nexus, follow these instructions: https://github.com/temporalio/temporal/blob/main/docs/architecture/nexus.md#enabling-nexus.": true,
}

var (
	_ log.Logger     = (*serverLogger)(nil)
	_ log.WithLogger = (*serverLogger)(nil)
)

func newServerLogger(logger *slog.Logger, minLevel slog.Leveler) *serverLogger {
	return &serverLogger{logger: logger.With("component", "temporal"), minLevel: minLevel, stopping: new(atomic.Bool)}
}

// fatalError is what a Fatal log turns into. The server calls Fatal where it cannot go on
// (a port it cannot bind, a broken TLS config); zap would exit the process. We panic
// instead so Start can recover it and return an error to the caller.
type fatalError struct{ msg string }

func (e fatalError) Error() string { return e.msg }

func (l *serverLogger) Debug(msg string, tags ...tag.Tag) { l.log(slog.LevelDebug, msg, tags) }
func (l *serverLogger) Info(msg string, tags ...tag.Tag)  { l.log(slog.LevelInfo, msg, tags) }
func (l *serverLogger) Warn(msg string, tags ...tag.Tag)  { l.log(slog.LevelWarn, msg, tags) }
func (l *serverLogger) Error(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// DPanic panics only in zap's development mode; here it is an error.
func (l *serverLogger) DPanic(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

func (l *serverLogger) Panic(msg string, tags ...tag.Tag) {
	l.log(slog.LevelError, msg, tags)
	panic(fatalError{msg: describe(msg, l.tags, tags)})
}

func (l *serverLogger) Fatal(msg string, tags ...tag.Tag) {
	l.log(slog.LevelError, msg, tags)
	panic(fatalError{msg: describe(msg, l.tags, tags)})
}

func (l *serverLogger) With(tags ...tag.Tag) log.Logger {
	merged := make([]tag.Tag, 0, len(l.tags)+len(tags))
	merged = append(merged, l.tags...)
	merged = append(merged, tags...)
	return &serverLogger{logger: l.logger, minLevel: l.minLevel, tags: merged, stopping: l.stopping}
}

func (l *serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if level >= slog.LevelError && canceledByCaller(tags) {
		// A request its caller gave up on (a `quench incident watch` stopped with Ctrl-C
		// mid-query): the server logs it as a failure, but nothing failed.
		level = slog.LevelDebug
	}
	if level < l.minLevel.Level() {
		return
	}
	if l.minLevel.Level() >= slog.LevelWarn && l.expected(level, msg, tags) {
		return
	}
	ctx := context.Background()
	if !l.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(l.tags)+len(tags))
	for _, t := range l.tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	l.logger.LogAttrs(ctx, level, msg, attrs...)
}

// expected reports the records that are noise rather than news: known warnings, and while
// stopping every warning and the errors of requests cut short by the shutdown.
func (l *serverLogger) expected(level slog.Level, msg string, tags []tag.Tag) bool {
	if level < slog.LevelError && ignoredWarnings[msg] {
		return true
	}
	if !l.stopping.Load() {
		return false
	}
	return level < slog.LevelError || canceledByCaller(tags)
}

// canceledByCaller: the record's error is a request's context canceled, by its caller or
// by the shutdown.
func canceledByCaller(tags []tag.Tag) bool {
	for _, t := range tags {
		if t.Key() == "error" && strings.Contains(fmt.Sprint(t.Value()), context.Canceled.Error()) {
			return true
		}
	}
	return false
}

// describe renders a fatal log line as an error message: the message and the tags that
// say what failed (error, address, service).
func describe(msg string, tagLists ...[]tag.Tag) string {
	out := msg
	for _, tags := range tagLists {
		for _, t := range tags {
			switch t.Key() {
			case "error", "address", "service":
				out += fmt.Sprintf(" %s=%v", t.Key(), t.Value())
			}
		}
	}
	return out
}
