package datastore

import "strings"

// Calico's etcd key layout (calico-reference.md §5.1).
const (
	// Root is the prefix of everything Calico stores.
	Root = "/calico/"
	// ResourcePrefix is where v3 resources live.
	ResourcePrefix = "/calico/resources/v3/projectcalico.org/"
)

// ResourceKey is the key of a v3 resource: plural is the lower-case plural
// kind ("ippools"); namespace is empty for cluster-scoped kinds.
func ResourceKey(plural, namespace, name string) string {
	if namespace == "" {
		return ResourcePrefix + plural + "/" + name
	}
	return ResourcePrefix + plural + "/" + namespace + "/" + name
}

// ResourceListPrefix is the prefix under which all resources of a kind (in
// one namespace, when namespace is set) are stored. It ends with "/".
func ResourceListPrefix(plural, namespace string) string {
	if namespace == "" {
		return ResourcePrefix + plural + "/"
	}
	return ResourcePrefix + plural + "/" + namespace + "/"
}

// SplitResourceKey is the inverse of ResourceKey for a key listed under
// ResourceListPrefix(plural, ""): it returns namespace and name.
func SplitResourceKey(plural, key string, namespaced bool) (namespace, name string, ok bool) {
	rest, found := strings.CutPrefix(key, ResourcePrefix+plural+"/")
	if !found || rest == "" {
		return "", "", false
	}
	if !namespaced {
		return "", rest, !strings.Contains(rest, "/")
	}
	ns, n, found := strings.Cut(rest, "/")
	if !found || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", false
	}
	return ns, n, true
}
