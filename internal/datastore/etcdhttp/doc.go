// Package etcdhttp is a datastore.Store on etcd v3 that speaks etcd's JSON
// gRPC gateway (POST /v3/kv/range, /v3/kv/txn, /v3/watch, ...) over plain
// HTTP/1.1 with the standard library only.
//
// Why: the CNI plugin binary is exec'd once per pod. Linking etcd's client
// and gRPC costs several milliseconds of package init and of connection
// setup in every one of those short processes; net/http and encoding/json
// are already linked and start at once. Long-running components (the node
// agent, tortiectl) may keep using package etcd: both backends store the
// same keys and values, pass the same conformance suite (storetest), and
// return the same errors.
//
// The package must never import go.etcd.io/*, google.golang.org/grpc or
// google.golang.org/protobuf; its tests check this.
//
// The gateway's JSON is protobuf's JSON mapping with proto field names:
// bytes fields are base64 (encoding/json's encoding of []byte), int64 fields
// are decimal strings (the ",string" tag option), enums are their names, and
// fields at their zero value are left out.
package etcdhttp
