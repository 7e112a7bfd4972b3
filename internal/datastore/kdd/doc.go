// Package kdd is the Kubernetes datastore ("datastoreType: kubernetes"):
// datastore.Store over a kube-apiserver, in Calico's layout, so that
// Calico's own tools in KDD mode read what tortie writes and the other way
// round (calico-reference.md §5.2):
//
//   - each v3 kind is a crd.projectcalico.org/v1 custom resource of the
//     same name, with the v3 spec; the v3 metadata Kubernetes has no field
//     for (uid, creationTimestamp, ...) is kept in the
//     projectcalico.org/metadata annotation;
//   - a Node is the Kubernetes Node, Calico's fields in its annotations;
//   - a WorkloadEndpoint is a Pod, its addresses in the
//     cni.projectcalico.org/podIP(s) annotations the CNI plugin writes;
//   - Profiles are derived: kns.<ns> from Namespaces, ksa.<ns>.<sa> from
//     ServiceAccounts, and projectcalico-default-allow;
//   - IPAM blocks, affinities, handles and the configuration are IPAMBlock,
//     BlockAffinity, IPAMHandle and IPAMConfig objects named as Calico names
//     them;
//   - any other key (tortie's own) is a labelled ConfigMap.
//
// It speaks JSON over net/http and links no client-go: the CNI plugin
// starts once per pod and must stay cheap, and the few verbs it needs
// (get, list, create, replace, merge-patch, delete with a precondition,
// watch with bookmarks) are small.
//
// What Kubernetes gives differs from etcd in three ways the Store contract
// had to absorb. A resourceVersion is an etcd revision (a decimal number,
// shared by all resources of a cluster): tortie uses it as the revision,
// so one List of several resources is taken at one resourceVersion
// (resourceVersionMatch=Exact) and a Watch resumes from one. Watch events
// carry no previous value: a Watch first lists at its start revision and
// keeps each key's last value. And there is no multi-object transaction
// and no create revision: see Store.Txn for what a transaction is here
// (all-or-nothing when it returns, not isolated), and KV.CreateRevision is
// always 0.
package kdd
