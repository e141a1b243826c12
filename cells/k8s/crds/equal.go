package crds

import (
	"bytes"
	"encoding/json"
)

// equalJSON compares two values by their JSON encoding, which is what the
// API server stores; it treats nil and empty the same where omitempty does.
func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
