package bus

import (
	"context"

	"github.com/inopsio/spine/event"
)

type headerKey struct{}

// HeaderFrom returns the header of the event a handler's context belongs to.
func HeaderFrom(ctx context.Context) (event.Header, bool) {
	h, ok := ctx.Value(headerKey{}).(event.Header)
	return h, ok
}

// TenantFrom returns the tenant of the event a handler's context belongs to,
// or "".
func TenantFrom(ctx context.Context) string {
	h, _ := HeaderFrom(ctx)
	return h.TenantID
}

func withHeader(ctx context.Context, h event.Header) context.Context {
	return context.WithValue(ctx, headerKey{}, h)
}
