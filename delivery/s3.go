// Package delivery takes a finished run's files where people and machines
// expect them (SPEC 16): objects in S3-compatible storage, one e-mail to a
// distribution list, and metrics for Prometheus.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 uploads files to S3-compatible object storage. It uses
// github.com/minio/minio-go/v7: one small module that speaks to AWS S3 and
// to every S3-compatible store (path-style addressing for custom
// endpoints), with the standard credential chain, where the AWS SDK v2 would
// bring a dozen modules for the same three calls.
type S3 struct {
	client   *minio.Client
	endpoint string // for messages
}

// S3Object names one object: s3://Bucket/Key.
type S3Object struct {
	Bucket, Key string
}

func (o S3Object) String() string { return "s3://" + o.Bucket + "/" + o.Key }

// IsS3URL reports whether s is an s3:// URL.
func IsS3URL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseS3URL reads s3://bucket/key. The key must name a file (not end in /).
func ParseS3URL(s string) (S3Object, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return S3Object{}, fmt.Errorf("%q is not an s3:// URL", s)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	switch {
	case bucket == "":
		return S3Object{}, fmt.Errorf("%q names no bucket (want s3://bucket/path/file.xlsx)", s)
	case key == "" || strings.HasSuffix(key, "/"):
		return S3Object{}, fmt.Errorf("%q names no object key (want s3://bucket/path/file.xlsx)", s)
	}
	return S3Object{Bucket: bucket, Key: key}, nil
}

// S3Config configures the client. Env holds the process environment (the
// AWS_* variables are read from it, so that tests need not touch the real
// one).
type S3Config struct {
	// Endpoint is AUDIT_S3_ENDPOINT: "" for AWS, else a URL
	// (https://s3.example.com, http://127.0.0.1:9000 on loopback).
	Endpoint string
	Env      map[string]string
	// Timeout bounds each request (default 60s).
	Timeout time.Duration
}

// NewS3 builds a client. Credentials: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN) when set, else the shared
// credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE) and then the
// instance or pod role (IMDS, or a web identity token on EKS). Region from
// AWS_REGION (or AWS_DEFAULT_REGION).
func NewS3(cfg S3Config) (*S3, error) {
	host, secure, lookup := "s3.amazonaws.com", true, minio.BucketLookupAuto
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("AUDIT_S3_ENDPOINT: %q is not an endpoint URL (want https://s3.example.com or http://127.0.0.1:9000)", cfg.Endpoint)
		}
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("AUDIT_S3_ENDPOINT: %q is plain http to a host that is not loopback: use https", cfg.Endpoint)
		}
		host, secure, lookup = u.Host, u.Scheme == "https", minio.BucketLookupPath
	}
	env := cfg.Env
	var creds *credentials.Credentials
	if id, secret := env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]; id != "" || secret != "" {
		if id == "" || secret == "" {
			return nil, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both or neither")
		}
		creds = credentials.NewStaticV4(id, secret, env["AWS_SESSION_TOKEN"])
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.FileAWSCredentials{Filename: env["AWS_SHARED_CREDENTIALS_FILE"], Profile: env["AWS_PROFILE"]},
			&credentials.IAM{},
		})
	}
	region := env["AWS_REGION"]
	if region == "" {
		region = env["AWS_DEFAULT_REGION"]
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	tr.ResponseHeaderTimeout = timeout
	client, err := minio.New(host, &minio.Options{
		Creds: creds, Secure: secure, Region: region, BucketLookup: lookup, Transport: tr, MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("AUDIT_S3_ENDPOINT: %w", err)
	}
	desc := cfg.Endpoint
	if desc == "" {
		desc = "AWS S3"
	}
	return &S3{client: client, endpoint: desc}, nil
}

// ErrUnreachable marks a store that did not answer (connection refused,
// DNS, timeout): a retry later may succeed (exit 1), unlike a missing
// bucket or refused credentials (exit 2).
var ErrUnreachable = errors.New("object storage unreachable")

// CheckBucket proves before the run that bucket exists and the credentials
// may use it. A store that does not answer is ErrUnreachable.
func (s *S3) CheckBucket(ctx context.Context, bucket string) error {
	ok, err := s.client.BucketExists(ctx, bucket)
	if err != nil {
		return s.explain(bucket, err)
	}
	if !ok {
		return fmt.Errorf("bucket %q does not exist at %s", bucket, s.endpoint)
	}
	return nil
}

// explain turns a client error into words: unreachable, refused
// credentials, or what the store said.
func (s *S3) explain(bucket string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.StatusCode == 0 && resp.Code == "":
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "connection refused") {
			return fmt.Errorf("%w: %s: %w", ErrUnreachable, s.endpoint, err)
		}
		return fmt.Errorf("bucket %q at %s: %w", bucket, s.endpoint, err)
	case resp.StatusCode == 401 || resp.StatusCode == 403 || refusedCodes[resp.Code]:
		return fmt.Errorf("bucket %q at %s refuses the credentials (%s): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the role", bucket, s.endpoint, firstNonEmpty(resp.Code, resp.Message))
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w: %s answered %d %s", ErrUnreachable, s.endpoint, resp.StatusCode, resp.Code)
	}
	return fmt.Errorf("bucket %q at %s: %s %s", bucket, s.endpoint, resp.Code, resp.Message)
}

// refusedCodes are the error codes of stores that refuse the credentials
// (AWS, MinIO, versitygw's unknown access key).
var refusedCodes = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"InvalidToken": true, "ExpiredToken": true, "XAdminUserNotFound": true,
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

// Upload puts the local file at src as object o with contentType.
func (s *S3) Upload(ctx context.Context, src string, o S3Object, contentType string) error {
	if _, err := s.client.FPutObject(ctx, o.Bucket, o.Key, src, minio.PutObjectOptions{ContentType: contentType}); err != nil {
		return fmt.Errorf("uploading %s: %w", o, s.explain(o.Bucket, err))
	}
	return nil
}

// Mark writes o's ".incomplete" marker object holding reason, or removes a
// stale one when reason is "" (as the file outputs do with PATH.incomplete).
func (s *S3) Mark(ctx context.Context, o S3Object, reason string) error {
	marker := S3Object{Bucket: o.Bucket, Key: o.Key + ".incomplete"}
	if reason == "" {
		if err := s.client.RemoveObject(ctx, marker.Bucket, marker.Key, minio.RemoveObjectOptions{}); err != nil {
			if minio.ToErrorResponse(err).Code != "NoSuchKey" {
				return fmt.Errorf("removing %s: %w", marker, s.explain(o.Bucket, err))
			}
		}
		return nil
	}
	body := "INCOMPLETE RUN: " + reason + "\n"
	_, err := s.client.PutObject(ctx, marker.Bucket, marker.Key, strings.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "text/plain; charset=utf-8"})
	if err != nil {
		return fmt.Errorf("writing %s: %w", marker, s.explain(o.Bucket, err))
	}
	return nil
}

// ContentType is the MIME type of a report file by its name.
func ContentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".html":
		return "text/html; charset=utf-8"
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".jsonl":
		return "application/jsonl"
	case ".json":
		return "application/json"
	case ".sig":
		return "application/octet-stream"
	case ".prom":
		return "text/plain; version=0.0.4"
	}
	return "application/octet-stream"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readFileSize returns the size of the file at p, or -1.
func readFileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}
