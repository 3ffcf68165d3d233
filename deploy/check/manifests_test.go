// Package check decodes every manifest in deploy/ strictly into the
// Kubernetes API types and checks the rules of SPEC 12: every Job and
// CronJob retries exit 1 and ignores DisruptionTarget, only exit 2 and 3
// fail at once; every object carries app.kubernetes.io/name, /component
// and /version; every env name is one the program reads (derived from the
// env tags of cmd/audit's Config, parsed with go/ast, so new variables are
// known without editing this test). A module of its own, so that the
// product's go.mod stays free of k8s.io.
package check

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// knownVariables are the env tags of cmd/audit's Config, plus the few the
// program reads directly.
func knownVariables(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{"JOB_COMPLETION_INDEX": true, "GOMEMLIMIT": true}
	// The standard AWS variables the s3:// outputs' credential chain reads
	// (delivery/s3.go, and minio-go's IAM provider for pod roles).
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		known[v] = true
	}
	fset := token.NewFileSet()
	files, err := filepath.Glob("../../cmd/audit/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cmd/audit sources: %v", err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != "Config" {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, fld := range st.Fields.List {
				if fld.Tag == nil {
					continue
				}
				tag := reflect.StructTag(strings.Trim(fld.Tag.Value, "`"))
				if env := tag.Get("env"); env != "" {
					known[strings.Split(env, ",")[0]] = true
				}
			}
			return false
		})
	}
	if !known["AUDIT_OUTPUT"] || !known["GENAUTH_HOST"] {
		t.Fatalf("Config's env tags not found: %v", known)
	}
	return known
}

type object struct {
	file string
	kind string
	doc  []byte
}

// manifests splits every deploy/*.yaml into its documents.
func manifests(t *testing.T) []object {
	t.Helper()
	files, _ := filepath.Glob("../*.yaml")
	if len(files) < 4 {
		t.Fatalf("manifests: %v", files)
	}
	var out []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---")) {
			var meta struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if meta.Kind == "" {
				continue // comments only
			}
			out = append(out, object{file: filepath.Base(f), kind: meta.Kind, doc: doc})
		}
	}
	return out
}

func decode(t *testing.T, o object, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(o.doc, into); err != nil {
		t.Errorf("%s %s: %v", o.file, o.kind, err)
	}
}

func TestManifests(t *testing.T) {
	known := knownVariables(t)
	kinds := map[string]int{}
	for _, o := range manifests(t) {
		kinds[o.kind]++
		var (
			labels   map[string]string
			job      *batchv1.JobSpec
			name     string
			podLabel map[string]string
		)
		switch o.kind {
		case "CronJob":
			var cj batchv1.CronJob
			decode(t, o, &cj)
			labels, name, job = cj.Labels, cj.Name, &cj.Spec.JobTemplate.Spec
			if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("%s: concurrencyPolicy %q, want Forbid", o.file, cj.Spec.ConcurrencyPolicy)
			}
		case "Job":
			var j batchv1.Job
			decode(t, o, &j)
			labels, name, job = j.Labels, j.Name, &j.Spec
		case "Secret":
			var s corev1.Secret
			decode(t, o, &s)
			labels, name = s.Labels, s.Name
		case "PersistentVolumeClaim":
			var p corev1.PersistentVolumeClaim
			decode(t, o, &p)
			labels, name = p.Labels, p.Name
		case "PrometheusRule":
			var r prometheusRule
			decode(t, o, &r)
			labels, name = r.Labels, r.Name
			checkAlerts(t, o.file, r)
		default:
			t.Errorf("%s: unexpected kind %s", o.file, o.kind)
			continue
		}
		for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/version"} {
			if labels[l] == "" {
				t.Errorf("%s %s %s: no label %s", o.file, o.kind, name, l)
			}
		}
		if job == nil {
			continue
		}
		podLabel = job.Template.Labels
		if podLabel["app.kubernetes.io/name"] == "" || podLabel["app.kubernetes.io/component"] == "" {
			t.Errorf("%s: the pod template lacks the app.kubernetes.io labels", o.file)
		}
		checkFailurePolicy(t, o.file, job)
		for _, c := range job.Template.Spec.Containers {
			for _, e := range c.Env {
				if !known[e.Name] {
					t.Errorf("%s container %s: env %s is not a variable the program reads", o.file, c.Name, e.Name)
				}
			}
		}
	}
	if kinds["CronJob"] == 0 || kinds["Job"] < 2 || kinds["Secret"] == 0 {
		t.Errorf("manifests found: %v", kinds)
	}
}

// prometheusRule is the Prometheus Operator's PrometheusRule
// (monitoring.coreos.com/v1), which k8s.io/api does not hold: the fields the
// examples use, decoded strictly like the rest.
type prometheusRule struct {
	APIVersion        string `json:"apiVersion"`
	Kind              string `json:"kind"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []struct {
			Name     string `json:"name"`
			Interval string `json:"interval,omitempty"`
			Rules    []struct {
				Alert       string            `json:"alert,omitempty"`
				Record      string            `json:"record,omitempty"`
				Expr        string            `json:"expr"`
				For         string            `json:"for,omitempty"`
				Labels      map[string]string `json:"labels,omitempty"`
				Annotations map[string]string `json:"annotations,omitempty"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// checkAlerts: the two alerts of SPEC 16's deployment (no success for 26
// hours; coverage down by more than 2 points), on metrics the program
// pushes.
func checkAlerts(t *testing.T, file string, r prometheusRule) {
	t.Helper()
	if r.APIVersion != "monitoring.coreos.com/v1" {
		t.Errorf("%s: apiVersion %q", file, r.APIVersion)
	}
	exprs := map[string]string{}
	for _, g := range r.Spec.Groups {
		for _, rule := range g.Rules {
			exprs[rule.Alert] = rule.Expr
		}
	}
	for alert, metric := range map[string]string{
		"MFAAuditNotSucceeding":   "mfa_audit_last_success_timestamp_seconds",
		"MFAAuditCoverageDropped": "mfa_audit_coverage_ratio",
	} {
		if !strings.Contains(exprs[alert], metric+`{job="mfa_audit"}`) {
			t.Errorf("%s: alert %s does not watch %s of job mfa_audit: %q", file, alert, metric, exprs[alert])
		}
	}
	if !strings.Contains(exprs["MFAAuditNotSucceeding"], "26 * 3600") || !strings.Contains(exprs["MFAAuditCoverageDropped"], "-0.02") {
		t.Errorf("%s: thresholds: %v", file, exprs)
	}
}

// checkFailurePolicy: exit 1 is retried (never in a Fail rule, retries
// allowed), 2 fails the Job at once, 3 fails the Job or its index,
// DisruptionTarget is ignored.
func checkFailurePolicy(t *testing.T, file string, job *batchv1.JobSpec) {
	t.Helper()
	p := job.PodFailurePolicy
	if p == nil {
		t.Errorf("%s: no podFailurePolicy", file)
		return
	}
	retries := job.BackoffLimit != nil && *job.BackoffLimit > 0 || job.BackoffLimitPerIndex != nil && *job.BackoffLimitPerIndex > 0
	if !retries {
		t.Errorf("%s: no retries (backoffLimit / backoffLimitPerIndex)", file)
	}
	failJob, failAny, ignoresDisruption := map[int32]bool{}, map[int32]bool{}, false
	for _, r := range p.Rules {
		if r.OnExitCodes != nil {
			if r.OnExitCodes.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn {
				t.Errorf("%s: exit code rule with operator %s (list the codes with In)", file, r.OnExitCodes.Operator)
			}
			for _, v := range r.OnExitCodes.Values {
				switch r.Action {
				case batchv1.PodFailurePolicyActionFailJob:
					failJob[v], failAny[v] = true, true
				case batchv1.PodFailurePolicyActionFailIndex:
					failAny[v] = true
				}
			}
		}
		for _, c := range r.OnPodConditions {
			if c.Type == corev1.DisruptionTarget && r.Action == batchv1.PodFailurePolicyActionIgnore {
				ignoresDisruption = true
			}
		}
	}
	if failAny[1] {
		t.Errorf("%s: exit 1 (an outage or an interruption) fails at once; it must be retried", file)
	}
	if !failJob[2] || !failAny[3] {
		t.Errorf("%s: exit 2 must fail the Job and 3 the Job or its index at once (fail rules: %v)", file, slices.Sorted(mapsKeys(failAny)))
	}
	if !ignoresDisruption {
		t.Errorf("%s: DisruptionTarget not ignored", file)
	}
}

func mapsKeys(m map[int32]bool) func(func(int32) bool) {
	return func(yield func(int32) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
