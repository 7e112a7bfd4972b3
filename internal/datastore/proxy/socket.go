package proxy

// DefaultSocketName is the node agent's socket in its state directory
// (/var/lib/tortie/tortie.sock by default), where tortie-node serves its
// datastore connection and the CNI plugin looks for it.
const DefaultSocketName = "tortie.sock"
