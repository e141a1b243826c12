package statedb

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hivenet/hivenet/statedb/index"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestHTTPHandler(t *testing.T) {
	db, table := newTestDB(t, tagsIndex)
	plain := MustNewTable("plain", Index[string, string]{
		Name:       "s",
		FromObject: func(s string) index.KeySet { return index.NewKeySet(index.String(s)) },
		FromKey:    index.String,
		Unique:     true,
	})
	db.RegisterTable(plain)
	mustInsert(t, db, table,
		&testObject{ID: 1, Name: "one", Tags: []string{"a", "b"}},
		&testObject{ID: 2, Name: "two"},
	)
	wtxn := db.WriteTxn(plain)
	plain.RegisterInitializer(wtxn, "k8s")
	plain.Insert(wtxn, "hello")
	wtxn.Commit()
	h := NewHTTPHandler(db)

	code, body := get(t, h, "/v1/db")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/db: %d %s", code, body)
	}
	var infos []TableInfo
	if err := json.Unmarshal([]byte(body), &infos); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	if len(infos) != 2 || infos[0].Name != "test" || infos[0].Objects != 2 || infos[0].Revision != 2 ||
		!infos[0].Initialized || infos[1].Initialized || infos[1].Pending[0] != "k8s" {
		t.Fatalf("listing = %+v", infos)
	}

	code, body = get(t, h, "/v1/db/test?format=table")
	want := "ID   Name   Tags\n1    one    a,b\n2    two    \n"
	if code != http.StatusOK || body != want {
		t.Fatalf("table format: %d\n%q\nwant\n%q", code, body, want)
	}

	code, body = get(t, h, "/v1/db/test")
	var objs []testObject
	if err := json.Unmarshal([]byte(body), &objs); code != http.StatusOK || err != nil || len(objs) != 2 || objs[1].Name != "two" {
		t.Fatalf("json format: %d %v %s", code, err, body)
	}

	// Queries by key, in the primary and in a non-unique index.
	if _, body = get(t, h, "/v1/db/test?format=table&key=2"); body != "ID   Name   Tags\n2    two    \n" {
		t.Fatalf("key=2: %q", body)
	}
	if _, body = get(t, h, "/v1/db/test?format=table&index=tags&key=b"); body != "ID   Name   Tags\n1    one    a,b\n" {
		t.Fatalf("tags=b: %q", body)
	}
	code, body = get(t, h, "/v1/db/test?index=nope&key=x")
	if code != http.StatusBadRequest || !strings.Contains(body, `its indexes are: id, tags`) {
		t.Fatalf("bad index: %d %s", code, body)
	}
	code, body = get(t, h, "/v1/db/test?key=notanumber")
	if code != http.StatusBadRequest || !strings.Contains(body, `index \"id\": bad key \"notanumber\"`) {
		t.Fatalf("bad key: %d %s", code, body)
	}

	// Objects that are not TableWritable render as JSON lines.
	if _, body = get(t, h, "/v1/db/plain?format=table"); body != "\"hello\"\n" {
		t.Fatalf("plain table = %q", body)
	}

	code, body = get(t, h, "/v1/db/nope")
	if code != http.StatusNotFound || !strings.Contains(body, `no table \"nope\"; tables are: plain, test`) {
		t.Fatalf("missing table: %d %s", code, body)
	}
	code, body = get(t, h, "/v1/db/test?format=xml")
	if code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
		t.Fatalf("bad format: %d %s", code, body)
	}

	// Empty TableWritable tables still show their header.
	wtxn = db.WriteTxn(table)
	table.DeleteAll(wtxn)
	wtxn.Commit()
	if _, body = get(t, h, "/v1/db/test?format=table"); body != "ID   Name   Tags\n" {
		t.Fatalf("empty table = %q", body)
	}
}
