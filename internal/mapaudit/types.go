// Package mapaudit audits strong certificate mapping (KB5014754) across a
// directory: it reads certificates and accounts from files, CA database
// exports, LDIF and LDAP, pairs each certificate with the accounts a domain
// controller would map it to, predicts each DC's verdict with package mapping,
// and writes the altSecurityIdentities values that fix weak pairs.
package mapaudit

import (
	"fmt"

	"github.com/tegata-project/tegata/mapping"
)

// DirectoryAccount is one account as read from a directory source.
type DirectoryAccount struct {
	mapping.Account
	// DN is the distinguishedName; GUID is the objectGUID in its string form
	// (empty when unknown).
	DN, GUID string
	// Disabled reports ACCOUNTDISABLE (0x2) in userAccountControl: flagged,
	// still predicted.
	Disabled bool
	// Certificates are the userCertificate values (DER): a direct source of
	// certificate/account pairs for templates that publish to AD.
	Certificates [][]byte
	// Origin says where the account was read, such as "corp.ldf:120" or
	// "ldaps://dc1.corp.test:636".
	Origin string
}

// DomainController is a DC found in a directory: a computer object with
// SERVER_TRUST_ACCOUNT set.
type DomainController struct {
	// Name is the DC's dNSHostName.
	Name string
	// OperatingSystem and OperatingSystemVersion are the computer object's
	// attributes, such as "Windows Server 2022 Datacenter" and "10.0 (20348)".
	OperatingSystem, OperatingSystemVersion string
}

// Directory is what a directory source yields.
type Directory struct {
	Accounts          []DirectoryAccount
	DomainControllers []DomainController
	// NTAuth holds the DER certificates of the NTAuth store; nil when the
	// source did not include it.
	NTAuth [][]byte
	// Problems are entries that could not be used; the rest was still read.
	Problems []Problem
}

// Problem is an input that could not be used, and where it was.
type Problem struct {
	// Origin is the file and line, row or DN of the input.
	Origin string
	Err    error
}

func (p Problem) Error() string { return fmt.Sprintf("%s: %v", p.Origin, p.Err) }
func (p Problem) Unwrap() error { return p.Err }

// CertificateInput is one certificate to audit and where it came from.
type CertificateInput struct {
	Cert *mapping.Certificate
	// Origin is the file (and entry or row), or the account DN for a
	// userCertificate value.
	Origin string
	// Requester is the CA database's RequesterName: the enrolling identity,
	// a hint and never the owner (reference 9.2).
	Requester string
}

// Fix is one altSecurityIdentities value to add to one account.
type Fix struct {
	// DN identifies the account for LDIF and LDAP; SID (string form) for
	// PowerShell, which identifies accounts by SID rather than by name.
	DN, SID string
	Class   mapping.AccountClass
	// Value is the strong value exactly as the KDC compares it.
	Value string
	// Certificate is the origin of the certificate the value maps.
	Certificate string
	// Reason says why the pair needs it, in words.
	Reason string
}

// FixStatus is what happened to a Fix.
type FixStatus string

const (
	// FixPlanned: a dry run; nothing was written.
	FixPlanned FixStatus = "planned"
	// FixAdded: the value was added.
	FixAdded FixStatus = "added"
	// FixPresent: the value was already there (LDAP result 20, or found by a
	// case-insensitive comparison before writing).
	FixPresent FixStatus = "present"
	// FixFailed: the write failed; Err says why.
	FixFailed FixStatus = "failed"
)

// FixResult is the outcome of one Fix.
type FixResult struct {
	Fix    Fix
	Status FixStatus
	Err    error
}
