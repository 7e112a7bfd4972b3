package cni

import "github.com/tortienet/tortie/internal/datastore"

// ClientConfig is the datastore connection the configuration asks for
// (the IPAM plugin reads the same fields).
func (c *NetConf) ClientConfig() datastore.Config { return c.clientConfig() }
