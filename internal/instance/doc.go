// Package instance models the virtual machines a metadata server answers for and renders
// what Azure's IMDS serves about them at /metadata/instance, field by field as each
// api-version defines it.
//
// An Inventory holds the VMs, read from a YAML file (LoadFile; testdata/inventory.yaml is
// an example), generated for load tests (Generate), or a single generated VM (Generated,
// Single). Inventory.Lookup finds the VM behind a caller's address.
//
// Instance.Tree returns the document for an api-version as an immutable Node tree, which
// the HTTP layer walks for route parameters and renders as JSON or text. Which field
// appears from which api-version is data (versions.go, reference §4.2.3-§4.2.5), not
// code: the newest tree is built from the model and older ones are pruned from it.
//
// Every /metadata/instance value is a string, as on the wire: booleans are "true" or
// "false", numbers are decimal text, a missing value is "" and a missing list is [].
// The one exception is extended.compute.hasCustomData, a JSON boolean.
package instance
