// Command etcd is etcd's own server entry point (the same call as etcd's
// main.go), built as a wrapper so that the plain `go` client can build it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
