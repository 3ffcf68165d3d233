package sources

import (
	"context"
	"testing"

	"github.com/mfa-audit/mfa-audit/genauth"
	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

// TestPoolAttributesByteForByte: the whole pool's attributes are the user
// record's values as the API sent them, untrimmed.
func TestPoolAttributesByteForByte(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Users: []genauthtest.User{{
		UserID: "63739db5e0c8a1b2c3d4e5f6", Username: "\t=1+2 ", Email: " Søren@example.com", Phone: "+86 136 9485 8601\r",
	}}})
	defer srv.Close()
	client, err := genauth.New(genauth.Config{Host: srv.URL, AccessKeyID: srv.PoolID, AccessKeySecret: srv.Secret})
	if err != nil {
		t.Fatal(err)
	}
	src, err := OpenPool(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sub, err := src.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"username": "\t=1+2 ", "email": " Søren@example.com", "phone": "+86 136 9485 8601\r"} {
		if got, _ := sub.Attrs.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}
