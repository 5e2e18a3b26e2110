package catalog_test

import (
	"testing"

	"github.com/inopsio/spine/catalog"
)

func TestDefaultLoads(t *testing.T) {
	c, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Event("lead.created")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(e.PII(), e.Current().Path)
}
