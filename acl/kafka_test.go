package acl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/acl"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
)

// The plain Apache Kafka of scripts/services.sh (SPINE_TEST_KAFKA; its
// kafka-sasl service is the one with an authorizer) runs without one, as
// most development brokers do: it can hold no ACL, and Apply says so
// instead of reporting grants it could not make.
func TestApacheKafkaWithoutAuthorizer(t *testing.T) {
	addr := bustest.Service(t, "SPINE_TEST_KAFKA")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	grants := acl.FromCatalog(catalog.MustDefault(), acl.Options{Namespace: "acl-test."})
	for _, opts := range []acl.ApplyOptions{{DryRun: true}, {Prune: true}} {
		res, err := acl.Apply(ctxT(t), kadm.NewClient(cl), grants, opts)
		if !errors.Is(err, kerr.SecurityDisabled) || !strings.Contains(err.Error(), "authorizer") {
			t.Errorf("%+v: %v, want SECURITY_DISABLED naming the authorizer", opts, err)
		}
		if len(res.Added)+len(res.Unchanged)+len(res.Removed) != 0 {
			t.Errorf("%+v: a result without ACLs: %+v", opts, res)
		}
	}
}
