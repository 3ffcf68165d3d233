package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

func newTestS3(t *testing.T) (*S3, string) {
	t.Helper()
	v := testServer(t, "an S3-compatible server", "AUDIT_TEST_S3_ENDPOINT", "AUDIT_TEST_S3_ACCESS_KEY", "AUDIT_TEST_S3_SECRET_KEY")
	s, err := NewS3(S3Config{Endpoint: v[0], Env: map[string]string{"AWS_ACCESS_KEY_ID": v[1], "AWS_SECRET_ACCESS_KEY": v[2], "AWS_REGION": "us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	rand.Read(b[:])
	bucket := "mfa-audit-test-" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if err := s.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("making bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() {
		for o := range s.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			s.client.RemoveObject(ctx, bucket, o.Key, minio.RemoveObjectOptions{})
		}
		s.client.RemoveBucket(ctx, bucket)
	})
	return s, bucket
}

func TestS3UploadAndMarker(t *testing.T) {
	s, bucket := newTestS3(t)
	ctx := context.Background()
	if err := s.CheckBucket(ctx, bucket); err != nil {
		t.Fatalf("CheckBucket of an existing bucket: %v", err)
	}
	src := filepath.Join(t.TempDir(), "mfa-audit.xlsx")
	want := []byte("PK\x03\x04 not really a workbook \x00\xff")
	os.WriteFile(src, want, 0o600)
	o := S3Object{Bucket: bucket, Key: "reports/2026-12-06/mfa-audit.xlsx"}
	if err := s.Upload(ctx, src, o, ContentType(src)); err != nil {
		t.Fatal(err)
	}
	obj, err := s.client.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("object bytes differ: %q", got)
	}
	st, _ := obj.Stat()
	if st.ContentType != ContentType(src) {
		t.Errorf("content type %q, want %q", st.ContentType, ContentType(src))
	}
	if err := s.Mark(ctx, o, "interrupted: signal"); err != nil {
		t.Fatal(err)
	}
	m, err := s.client.GetObject(ctx, bucket, o.Key+".incomplete", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(m)
	if !strings.Contains(string(body), "interrupted: signal") {
		t.Errorf("marker says %q", body)
	}
	if err := s.Mark(ctx, o, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.StatObject(ctx, bucket, o.Key+".incomplete", minio.StatObjectOptions{}); err == nil {
		t.Error("a complete run left the stale marker object")
	}
	if err := s.Mark(ctx, o, ""); err != nil {
		t.Errorf("removing a marker that is not there: %v", err)
	}
}

func TestS3CheckBucketExplains(t *testing.T) {
	s, _ := newTestS3(t)
	ctx := context.Background()
	err := s.CheckBucket(ctx, "no-such-bucket-mfa-audit")
	if err == nil || !strings.Contains(err.Error(), "does not exist") || errors.Is(err, ErrUnreachable) {
		t.Errorf("missing bucket: %v", err)
	}
	v := testServer(t, "an S3-compatible server", "AUDIT_TEST_S3_ENDPOINT")
	bad, err := NewS3(S3Config{Endpoint: v[0], Env: map[string]string{"AWS_ACCESS_KEY_ID": "wrong", "AWS_SECRET_ACCESS_KEY": "wrongwrongwrong"}})
	if err != nil {
		t.Fatal(err)
	}
	err = bad.CheckBucket(ctx, "any-bucket")
	if err == nil || !strings.Contains(err.Error(), "refuses the credentials") || strings.Contains(err.Error(), "wrongwrongwrong") {
		t.Errorf("refused credentials: %v", err)
	}
}

func TestS3Unreachable(t *testing.T) {
	s, err := NewS3(S3Config{Endpoint: "http://127.0.0.1:1", Env: map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckBucket(context.Background(), "some-bucket"); !errors.Is(err, ErrUnreachable) {
		t.Errorf("closed port: %v, want ErrUnreachable", err)
	}
}

func TestS3Config(t *testing.T) {
	for _, tc := range []struct{ endpoint, want string }{
		{"http://s3.example.com", "plain http"},
		{"s3.example.com", "not an endpoint URL"},
		{"https://s3.example.com/bucket", "not an endpoint URL"},
	} {
		if _, err := NewS3(S3Config{Endpoint: tc.endpoint}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.endpoint, err, tc.want)
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"s3://b/k/report.xlsx", "s3://b/k/report.xlsx"},
		{"s3:///k", "no bucket"},
		{"s3://b/", "no object key"},
		{"s3://b", "no object key"},
	} {
		o, err := ParseS3URL(tc.url)
		got := o.String()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("ParseS3URL(%s) = %s, want %s", tc.url, got, tc.want)
		}
	}
}
