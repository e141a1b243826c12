package reconcilers_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hivenet/hivenet/reconcilers"
)

func TestStatus(t *testing.T) {
	err := reconcilers.StatusError(errors.New("map full"))
	if err.Kind != reconcilers.StatusKindError || err.Error != "map full" || err.UpdatedAt.IsZero() {
		t.Fatalf("StatusError = %+v", err)
	}
	if s := err.String(); !strings.HasPrefix(s, "error (") || !strings.HasSuffix(s, "): map full") {
		t.Fatalf("String = %q", s)
	}
	if s := reconcilers.StatusDone().String(); !strings.HasPrefix(s, "done (") {
		t.Fatalf("String = %q", s)
	}
	if s := (reconcilers.Status{}).String(); s != "pending (never)" {
		t.Fatalf("zero Status String = %q", s)
	}

	b, jerr := json.Marshal(err)
	if jerr != nil {
		t.Fatal(jerr)
	}
	if !strings.Contains(string(b), `"kind":"error"`) || !strings.Contains(string(b), `"error":"map full"`) {
		t.Fatalf("JSON %s", b)
	}
	var back reconcilers.Status
	if jerr := json.Unmarshal(b, &back); jerr != nil || back.Kind != err.Kind || back.Error != err.Error || !back.UpdatedAt.Equal(err.UpdatedAt) {
		t.Fatalf("round trip: %+v, %v", back, jerr)
	}
	if jerr := json.Unmarshal([]byte(`{"kind":"bogus"}`), &back); jerr == nil {
		t.Fatal("unknown kind accepted")
	}
}
