package cni

import "github.com/tortienet/tortie/internal/client"

// ClientConfig is the datastore connection the configuration asks for
// (the IPAM plugin reads the same fields).
func (c *NetConf) ClientConfig() client.Config { return c.clientConfig() }
