package pginbox_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/dedup/pginbox"
	"github.com/inopsio/spine/event"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is one test's view of the shared test database: a pool whose
// connections carry a unique application_name, a consumer group and a
// side-effect table of its own.
type env struct {
	pool    *pgxpool.Pool
	app     string // application_name of the pool's connections
	group   string
	effects string // table the handlers write their side effect to
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dsn := bustest.Service(t, "SPINE_TEST_POSTGRES")
	ctx := context.Background()
	suffix := uuid.NewString()[:8]
	e := &env{app: "pginbox-test-" + suffix, group: "pginbox-test-" + suffix, effects: "pginbox_effects_" + suffix}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = e.app
	cfg.MaxConns = 8
	if e.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	if err := pginbox.Migrate(ctx, e.pool); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `CREATE TABLE `+e.effects+` (event_id uuid PRIMARY KEY, note text NOT NULL)`)
	t.Cleanup(func() {
		// Before pool.Close (cleanups run last-in first-out).
		e.exec(t, `DROP TABLE IF EXISTS `+e.effects)
		e.exec(t, `DELETE FROM spine_inbox WHERE consumer_group = $1`, e.group)
	})
	return e
}

func (e *env) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := e.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// rows returns how many inbox rows and side effects the event left.
func (e *env) rows(t testing.TB, id string) (inbox, effects int) {
	t.Helper()
	return e.count(t, `SELECT count(*) FROM spine_inbox WHERE consumer_group = $1 AND event_id = $2`, e.group, id),
		e.count(t, `SELECT count(*) FROM `+e.effects+` WHERE event_id = $1`, id)
}

// sideEffect is the handler's own write, in the inbox transaction.
func (e *env) sideEffect(ctx context.Context, tx pgx.Tx, m *bus.Message) error {
	_, err := tx.Exec(ctx, `INSERT INTO `+e.effects+` (event_id, note) VALUES ($1, $2)`, m.Header.EventID,
		fmt.Sprintf("attempt %d", m.Attempt))
	return err
}

func message() *bus.Message {
	return &bus.Message{Envelope: event.Envelope{Header: event.Header{
		EventID: uuid.NewString(), EventName: "lead.created", TenantID: uuid.NewString()}}}
}
