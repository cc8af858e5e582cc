//go:build linux

package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestACLs is C-2's ACL part: with aclEnabled, the version files get r--
// for each user and group, the directories above them --x, and the mask
// follows; a missing principal fails that certificate only. As root, the
// test also reads the file as the granted user and fails to as another.
func TestACLs(t *testing.T) {
	e := newEnv(t)
	probe := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := setACL(probe, []aclGrant{{id: 65534}}, false); err != nil {
		t.Skipf("the file system of the temporary directory does not take POSIX ACLs: %v", err)
	}
	settings := fmt.Sprintf(`{"secretsManagementSettings":{"aclEnabled":true,"observedCertificates":[
		{"url":%q,"certificateStoreLocation":%q,"customSymbolicLinkName":"app1Cert1","acls":[{"user":"nobody","group":"daemon"}]},
		{"url":%q,"certificateStoreLocation":%q,"acls":[{"user":"no-such-user-tegata"}]}]},
		"authenticationSettings":{"msiEndpoint":%q},"tegata":{"caFile":%q,"statusFile":%q}}`,
		e.vault.url("app1"), e.store, e.vault.url("app2"), e.store, e.imds.srv.URL, e.pki.caFile(t), filepath.Join(t.TempDir(), "status.json"))
	v := e.vault.addPFX("app1", e.pki.material(t, 0))
	e.vault.addPFX("app2", e.pki.material(t, 0))
	a := e.agent(settings, ParseOptions{})
	r := a.SyncOnce(context.Background())
	if r.Certificates[0].Err != nil || r.Certificates[0].Version != v {
		t.Fatalf("app1: %+v", r.Certificates[0])
	}
	if err := r.Certificates[1].Err; err == nil || kindOf(err) != KindInstall || !strings.Contains(err.Error(), "no-such-user-tegata") {
		t.Errorf("app2 with a missing user: %v, want an install error naming it", err)
	}
	file := filepath.Join(e.store, "127-0-0-1.app1."+v)
	got, err := aclGrants(file)
	if err != nil {
		t.Fatal(err)
	}
	if got["user:65534"] != permRead || got["group:1"] != permRead || got["mask"] != permRead {
		t.Errorf("file ACL %v, want user:65534 r, group:1 r, mask r", got)
	}
	for d := e.store; d != "/"; d = filepath.Dir(d) {
		fi, _ := os.Stat(d)
		if fi.Mode().Perm()&0o001 != 0 {
			continue
		}
		if got, _ := aclGrants(d); got["user:65534"]&permExec == 0 || got["group:1"]&permExec == 0 {
			t.Errorf("directory %s ACL %v, want --x for both", d, got)
		}
	}
	if getfacl, err := exec.LookPath("getfacl"); err == nil {
		out, err := exec.Command(getfacl, "-n", "--absolute-names", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "user:65534:r--") || !strings.Contains(string(out), "group:1:r--") {
			t.Errorf("getfacl disagrees: %v\n%s", err, out)
		}
	}
	if os.Geteuid() != 0 {
		return
	}
	read := func(uid uint32) error {
		cmd := exec.Command("/bin/cat", filepath.Join(e.store, "app1Cert1"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: 65533}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := read(65534); err != nil {
		t.Errorf("nobody cannot read the granted file: %v", err)
	}
	if err := read(2); err == nil {
		t.Error("a user without a grant read the file")
	}
}
