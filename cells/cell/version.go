package cell

// Version is the hivenet release the binary was built from, set at link time
// with -ldflags "-X github.com/hivenet/hivenet/cells/cell.Version=v0.1.0".
var Version = "v0.1.0-dev"
