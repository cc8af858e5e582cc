// Package attest reads, verifies and signs Azure IMDS attested documents.
package attest

import _ "github.com/smallstep/pkcs7"
