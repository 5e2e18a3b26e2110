package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/broker"
)

// childEnv carries the data directory to the child process of
// TestRecordsSurviveCrash.
const childEnv = "SPINE_BROKER_CRASH_CHILD"

const crashRecords = 50

// crashChild runs in a child process: it starts a broker, produces records
// with acks=all, says so on stdout and waits to be killed. It never closes
// the broker, so nothing but what produce itself wrote reaches the disk.
func crashChild(dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, broker.Config{Addr: "127.0.0.1:0", DataDir: dir, Logger: quiet()})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	for i := range crashRecords {
		r := &kgo.Record{Topic: "order.received", Key: []byte("t"), Value: fmt.Appendf(nil, "%d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
	}
	fmt.Println("produced")
	select {} // until killed
}

// A broker killed with SIGKILL loses no acknowledged record: produce writes
// each batch to its segment file before it acknowledges.
func TestRecordsSurviveCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "produced\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	b := start(t, dir)
	defer b.Close()
	got := consumeN(t, b, "order.received", "", crashRecords)
	for i, r := range got {
		if string(r.Value) != fmt.Sprint(i) {
			t.Fatalf("record %d after the crash = %q", i, r.Value)
		}
	}
}
