package broker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kfakeLogger forwards kfake's printf-style logs to slog, formatting only
// what the handler will keep.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelInfo
	}
	ctx := context.Background()
	if k.l.Enabled(ctx, lvl) {
		k.l.Log(ctx, lvl, fmt.Sprintf(format, args...), "component", "kfake")
	}
}
