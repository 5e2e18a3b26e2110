package pginbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/dedup/pginbox"
)

// TestMigrateConcurrent: instances starting together on an empty database
// all migrate (CREATE ... IF NOT EXISTS alone can collide in the catalog),
// and again on the next start.
func TestMigrateConcurrent(t *testing.T) {
	dsn := bustest.Service(t, "SPINE_TEST_POSTGRES")
	ctx := context.Background()
	schema := "pginbox_migrate_" + uuid.NewString()[:8]
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = admin.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`) }()

	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for round := range 2 {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() { errs <- pginbox.Migrate(ctx, pool) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round+1, err)
			}
		}
	}
	var tables, indexes int
	if err := admin.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'spine_inbox'),
		(SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'spine_inbox')`, schema).Scan(&tables, &indexes); err != nil {
		t.Fatal(err)
	}
	if tables != 1 || indexes != 2 { // the primary key and handled_at
		t.Fatalf("%d tables and %d indexes in %s, want 1 and 2", tables, indexes, schema)
	}
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name      string
		olderThan time.Duration
		ages      map[time.Duration]int // rows of the test's group by age
		wantLeft  int
		wantErr   error
	}{
		{"keeps what is younger than the retention", dedup.DefaultTTL,
			map[time.Duration]int{0: 3, 6 * 24 * time.Hour: 2, 8 * 24 * time.Hour: 4}, 5, nil},
		{"deletes in batches", dedup.DefaultTTL,
			map[time.Duration]int{time.Hour: 1, 30 * 24 * time.Hour: 25_001}, 1, nil},
		{"a longer retention keeps more", 10 * 24 * time.Hour,
			map[time.Duration]int{8 * 24 * time.Hour: 2, 11 * 24 * time.Hour: 2}, 2, nil},
		{"under the dead-letter retention is refused", time.Hour,
			map[time.Duration]int{2 * time.Hour: 1}, 1, pginbox.ErrRetentionTooShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			total := 0
			for age, n := range tc.ages {
				e.exec(t, `INSERT INTO spine_inbox (consumer_group, event_id, event_name, tenant_id, handled_at)
					SELECT $1, gen_random_uuid(), 'lead.created', gen_random_uuid(), now() - make_interval(secs => $2)
					FROM generate_series(1, $3)`, e.group, age.Seconds(), n)
				total += n
			}
			deleted, err := pginbox.Prune(context.Background(), e.pool, tc.olderThan)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Prune = %v, want %v", err, tc.wantErr)
			}
			left := e.count(t, `SELECT count(*) FROM spine_inbox WHERE consumer_group = $1`, e.group)
			if left != tc.wantLeft {
				t.Errorf("%d rows left, want %d", left, tc.wantLeft)
			}
			// Other runs' stale rows in the shared database may go too.
			if mine := int64(total - left); deleted < mine {
				t.Errorf("Prune reported %d deleted, fewer than this test's %d", deleted, mine)
			}
		})
	}
}
