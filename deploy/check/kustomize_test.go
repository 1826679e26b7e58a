package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const kubeDir = "../kubernetes"

// overlays lists every overlay with the kinds it must render, in the
// order of the check: each object of the output is decoded strictly and
// counted once.
var overlays = map[string][]string{
	"dev":  {"ConfigMap", "Deployment", "Deployment", "HorizontalPodAutoscaler", "Ingress", "Namespace", "PodDisruptionBudget", "Service", "Service", "ServiceMonitor"},
	"prod": {"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Ingress", "Namespace", "PodDisruptionBudget", "Service", "ServiceMonitor"},
	// dev with components/sticky-free (-sticky=false) and its dev secret.
	"dev-sticky-free": {"ConfigMap", "Deployment", "Deployment", "HorizontalPodAutoscaler", "Ingress", "Namespace", "PodDisruptionBudget", "Secret", "Service", "Service", "ServiceMonitor"},
}

// render runs kustomize (the Go API kubectl kustomize embeds) on an overlay.
func render(t *testing.T, overlay string) []byte {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(kubeDir, "overlays", overlay))
	if err != nil {
		t.Fatalf("kustomize %s: %v", overlay, err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decoders maps apiVersion/kind to a strict decode into the official type.
var decoders = map[string]func([]byte) (any, error){
	"v1/Namespace":                            strictAs[corev1.Namespace],
	"v1/ConfigMap":                            strictAs[corev1.ConfigMap],
	"v1/Secret":                               strictAs[corev1.Secret],
	"v1/Service":                              strictAs[corev1.Service],
	"apps/v1/Deployment":                      strictAs[appsv1.Deployment],
	"autoscaling/v2/HorizontalPodAutoscaler":  strictAs[autoscalingv2.HorizontalPodAutoscaler],
	"policy/v1/PodDisruptionBudget":           strictAs[policyv1.PodDisruptionBudget],
	"networking.k8s.io/v1/Ingress":            strictAs[networkingv1.Ingress],
	"monitoring.coreos.com/v1/ServiceMonitor": strictAs[monitoringv1.ServiceMonitor],
}

// strictAs decodes YAML into T, failing on unknown or duplicate fields.
func strictAs[T any](doc []byte) (any, error) {
	var v T
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

type object struct {
	kind, name string
	v          any
}

func decodeAll(t *testing.T, out []byte) []object {
	t.Helper()
	var objs []object
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		dec, ok := decoders[meta.APIVersion+"/"+meta.Kind]
		if !ok {
			t.Errorf("%s %s: no decoder for %s/%s; add one", meta.Kind, meta.Metadata.Name, meta.APIVersion, meta.Kind)
			continue
		}
		v, err := dec(doc)
		if err != nil {
			t.Errorf("%s %s does not decode strictly: %v", meta.Kind, meta.Metadata.Name, err)
			continue
		}
		objs = append(objs, object{meta.Kind, meta.Metadata.Name, v})
	}
	return objs
}

func TestOverlays(t *testing.T) {
	for overlay, wantKinds := range overlays {
		t.Run(overlay, func(t *testing.T) {
			objs := decodeAll(t, render(t, overlay))
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.kind)
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, wantKinds) {
				t.Errorf("kinds %v, want %v", kinds, wantKinds)
			}
			checkGateway(t, objs)
		})
	}
}

// checkGateway checks what the manifests promise beyond their schema.
func checkGateway(t *testing.T, objs []object) {
	var dep *appsv1.Deployment
	var cm *corev1.ConfigMap
	var svc *corev1.Service
	var ing *networkingv1.Ingress
	for _, o := range objs {
		switch v := o.v.(type) {
		case *appsv1.Deployment:
			if o.name == "sockgate" {
				dep = v
			}
		case *corev1.ConfigMap:
			cm = v
		case *corev1.Service:
			if o.name == "sockgate" {
				svc = v
			}
		case *networkingv1.Ingress:
			ing = v
			if d, _ := time.ParseDuration(v.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] + "s"); d < 45*time.Second {
				t.Errorf("Ingress proxy-read-timeout %v is below pingInterval + pingTimeout", d)
			}
		}
	}
	if dep == nil || cm == nil || svc == nil || ing == nil {
		t.Fatalf("missing the gateway Deployment, ConfigMap, Service or Ingress")
	}
	checkStickiness(t, cm, dep, ing)
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		t.Error("Service uses ClientIP affinity (useless behind an ingress)")
	}
	spec := dep.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("probes: liveness /healthz and readiness /readyz expected")
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container: read-only root filesystem and no privilege escalation expected")
	}
	if psc := spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod: runAsNonRoot expected")
	}
	if len(spec.TopologySpreadConstraints) == 0 {
		t.Error("no topology spread")
	}
	// The env comes from the ConfigMap (and the Secret in prod).
	var fromCM bool
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil && e.ConfigMapRef.Name == cm.Name {
			fromCM = true
		}
	}
	if !fromCM {
		t.Errorf("container envFrom does not load ConfigMap %s", cm.Name)
	}
	var gomemlimit bool
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory" {
			gomemlimit = true
		}
	}
	if !gomemlimit || c.Resources.Limits.Memory().IsZero() {
		t.Error("GOMEMLIMIT must follow limits.memory, and a memory limit must be set")
	}
	for k := range cm.Data {
		if !strings.HasPrefix(k, "SOCKGATE_") {
			t.Errorf("ConfigMap key %s is not a SOCKGATE_* setting", k)
		}
	}
	// terminationGracePeriodSeconds > preStop sleep + drain delay + shutdown timeout.
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	} else {
		t.Error("no preStop sleep")
	}
	delay := durationSetting(t, cm, "SOCKGATE_DRAIN_DELAY", 0)
	timeout := durationSetting(t, cm, "SOCKGATE_SHUTDOWN_TIMEOUT", 20*time.Second)
	grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	if grace <= preStop+delay+timeout {
		t.Errorf("terminationGracePeriodSeconds %v <= preStop %v + drain delay %v + shutdown timeout %v", grace, preStop, delay, timeout)
	}
}

// checkStickiness: with sticky sessions (the default) the Ingress sticks
// with a cookie; with SOCKGATE_STICKY=false it must not, and every pod
// advertises its own IP and reads the cluster secret from a Secret.
func checkStickiness(t *testing.T, cm *corev1.ConfigMap, dep *appsv1.Deployment, ing *networkingv1.Ingress) {
	if cm.Data["SOCKGATE_STICKY"] != "false" {
		if ing.Annotations["nginx.ingress.kubernetes.io/affinity"] != "cookie" {
			t.Error("Ingress without cookie affinity")
		}
		return
	}
	for k := range ing.Annotations {
		if strings.Contains(k, "affinity") || strings.Contains(k, "session-cookie") {
			t.Errorf("Ingress annotation %s with SOCKGATE_STICKY=false", k)
		}
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e
	}
	if e := env["POD_IP"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Error("POD_IP must come from status.podIP")
	}
	if e := env["SOCKGATE_ADVERTISE_ADDR"]; !strings.HasPrefix(e.Value, "$(POD_IP):") {
		t.Errorf("SOCKGATE_ADVERTISE_ADDR %q does not use the pod IP", e.Value)
	}
	if e := env["SOCKGATE_CLUSTER_SECRET"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Error("SOCKGATE_CLUSTER_SECRET must come from a Secret")
	}
	// Dependent variables must come after the ones they name.
	names := make([]string, 0, len(env))
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		names = append(names, e.Name)
	}
	if slices.Index(names, "POD_IP") > slices.Index(names, "SOCKGATE_ADVERTISE_ADDR") {
		t.Error("POD_IP must be defined before SOCKGATE_ADVERTISE_ADDR")
	}
}

func durationSetting(t *testing.T, cm *corev1.ConfigMap, key string, def time.Duration) time.Duration {
	v, ok := cm.Data[key]
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Errorf("%s=%q: %v", key, v, err)
	}
	return d
}

// TestKubectlKustomize renders each overlay with the kubectl binary too,
// when it embeds kustomize v4 or later, and expects the same objects.
func TestKubectlKustomize(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	ver, err := exec.Command(kubectl, "version", "--client", "-o", "json").Output()
	if err != nil {
		t.Skipf("kubectl version: %v", err)
	}
	var v struct {
		KustomizeVersion string `json:"kustomizeVersion"`
	}
	_ = json.Unmarshal(ver, &v)
	m := regexp.MustCompile(`^v(\d+)\.`).FindStringSubmatch(v.KustomizeVersion)
	major := 0
	if m != nil {
		major, _ = strconv.Atoi(m[1])
	}
	if major < 4 {
		t.Skipf("kubectl embeds kustomize %q (older than v4, which these kustomizations need)", v.KustomizeVersion)
	}
	for overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			out, err := exec.Command(kubectl, "kustomize", filepath.Join(kubeDir, "overlays", overlay)).Output()
			if err != nil {
				t.Fatalf("kubectl kustomize: %v", err)
			}
			if got, want := names(decodeAll(t, out)), names(decodeAll(t, render(t, overlay))); !slices.Equal(got, want) {
				t.Errorf("kubectl kustomize renders %v, the Go API %v", got, want)
			}
		})
	}
}

func names(objs []object) []string {
	var s []string
	for _, o := range objs {
		s = append(s, fmt.Sprintf("%s/%s", o.kind, o.name))
	}
	slices.Sort(s)
	return s
}

func TestMain(m *testing.M) {
	if _, err := os.Stat(kubeDir); err != nil {
		fmt.Fprintln(os.Stderr, "run from deploy/check:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}
