package agent

import (
	"net"
	"os"
	"strings"
	"time"
)

// notifier sends sd_notify messages to systemd when the agent runs as a
// Type=notify service (NOTIFY_SOCKET is set); otherwise it does nothing.
type notifier struct{ addr *net.UnixAddr }

func newNotifier() *notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return &notifier{}
	}
	if strings.HasPrefix(path, "@") { // abstract socket
		path = "\x00" + path[1:]
	}
	return &notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
}

// send delivers one message, such as READY=1; failures are ignored, as
// sd_notify's are.
func (n *notifier) send(msg string) {
	if n == nil || n.addr == nil {
		return
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(msg))
}
