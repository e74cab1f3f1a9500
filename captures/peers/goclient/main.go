// goclient: an admission-webhook caller shaped like kube-apiserver's.
//
// Standard library only. It reproduces what matters on the wire:
//   - one POST https://<svc>.<ns>.svc:443/validate?timeout=10s per call,
//     bounded by context.WithTimeout(timeout) (the webhook's timeoutSeconds);
//   - http.Transport{TLSHandshakeTimeout: 10s}, dialer Timeout 30s /
//     KeepAlive 30s, http.Client.Timeout 30s (client-go defaults);
//     -client-timeout sets http.Client.Timeout and -response-header-timeout
//     Transport.ResponseHeaderTimeout (0 = unset, as in client-go), to record
//     a client whose own timers are shorter than the webhook's timeoutSeconds;
//   - TLS: ServerName = SNI, NextProtos = ["http/1.1"] only, RootCAs = the
//     test CA;
//   - the dial ignores the URL host and goes to -target (the ClusterIP or the
//     pod IP, as the apiserver's service resolver does), from a fixed local
//     address/port so every connection has a known source port.
//   - -insecure sets InsecureSkipVerify (no certificate check at all); the
//     served certificate's facts are then reported with each answered request.
//   - -h2 offers ALPN ["h2", "http/1.1"] with ForceAttemptHTTP2 (what the
//     authentication, authorization and audit webhook clients and the
//     aggregator's proxy do); -method GET and -url-host make the aggregator's
//     discovery check (GET https://IP:PORT/apis/GROUP/VERSION, SNI still -host).
//
// With -plain it is a kubelet-style readiness probe instead (GET /healthz).
//
// One JSON line per request is written to stdout.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"time"
)

type result struct {
	Event       string  `json:"event"`
	Req         int     `json:"req,omitempty"`
	LocalPort   int     `json:"local_port"`
	Status      int     `json:"status,omitempty"`
	Error       string  `json:"error,omitempty"`
	Reused      bool    `json:"reused"`
	StartUnixNs int64   `json:"start_unix_ns,omitempty"`
	ElapsedMs   float64 `json:"elapsed_ms,omitempty"`
	TLSVersion  string  `json:"tls_version,omitempty"`
	ALPN        string  `json:"alpn,omitempty"`
	URL         string  `json:"url,omitempty"`
	BodyBytes   int     `json:"body_bytes,omitempty"`
	// with -insecure: what the (unverified) server certificate said
	PeerCN       string   `json:"peer_cert_cn,omitempty"`
	PeerSANs     []string `json:"peer_cert_dns_names,omitempty"`
	PeerNotAfter string   `json:"peer_cert_not_after,omitempty"`
}

// config is written once at start: the timers this client runs with.
type config struct {
	Event                 string  `json:"event"`
	LocalPort             int     `json:"local_port"`
	ContextTimeoutS       float64 `json:"context_timeout_s"`
	ClientTimeoutS        float64 `json:"client_timeout_s"`
	ResponseHeaderTimeout float64 `json:"response_header_timeout_s"`
	TLSHandshakeTimeoutS  float64 `json:"tls_handshake_timeout_s"`
	DialTimeoutS          float64 `json:"dial_timeout_s"`
	InsecureSkipVerify    bool    `json:"insecure_skip_verify"`
	H2                    bool    `json:"h2"`
}

func emit(r result) {
	b, _ := json.Marshal(r)
	os.Stdout.Write(append(b, '\n'))
}

// A small but well-formed AdmissionReview (kept short so the captures stay small).
const admissionReview = `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",` +
	`"request":{"uid":"5b3c1a4e-8c1f-4c4a-9d2e-2f6c4c1d0a01",` +
	`"kind":{"group":"","version":"v1","kind":"ConfigMap"},` +
	`"resource":{"group":"","version":"v1","resource":"configmaps"},` +
	`"name":"pcd-demo","namespace":"default","operation":"CREATE",` +
	`"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"pcd-demo"}}}}`

func tlsName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

func main() {
	target := flag.String("target", "", "IP:port actually dialed (service or pod address)")
	laddr := flag.String("laddr", "", "local IP to bind")
	lport := flag.Int("lport", 0, "local TCP port to bind (deterministic source port)")
	host := flag.String("host", "webhook.pcd-system.svc", "service DNS name: URL host, Host header and SNI")
	urlPort := flag.Int("url-port", 443, "port written in the URL (service port)")
	path := flag.String("path", "/validate", "URL path")
	caFile := flag.String("ca", "", "PEM CA bundle (the webhook's caBundle)")
	maxTLS := flag.String("maxtls", "1.3", "maximum TLS version offered: 1.2 or 1.3")
	n := flag.Int("n", 1, "number of requests, sent one after another on the same Transport")
	pause := flag.Duration("pause", 200*time.Millisecond, "pause between requests (without -gate)")
	gate := flag.Bool("gate", false, "before requests 2..n wait for one line on stdin")
	hold := flag.Bool("hold", false, "after the last request wait for one line on stdin, then close idle connections")
	plain := flag.Bool("plain", false, "kubelet-style readiness probe: plain HTTP GET")
	timeout := flag.Duration("timeout", 10*time.Second, "per-call deadline (webhook timeoutSeconds)")
	maxWait := flag.Duration("max-wait", 60*time.Second, "upper bound on any stdin wait")
	clientTimeout := flag.Duration("client-timeout", 30*time.Second, "http.Client.Timeout")
	respHdrTimeout := flag.Duration("response-header-timeout", 0, "Transport.ResponseHeaderTimeout (0 = unset)")
	insecure := flag.Bool("insecure", false, "InsecureSkipVerify: accept any server certificate")
	h2 := flag.Bool("h2", false, "offer ALPN h2 and http/1.1 (ForceAttemptHTTP2)")
	methodFlag := flag.String("method", "POST", "POST (an AdmissionReview body, ?timeout= in the URL) or GET")
	urlHost := flag.String("url-host", "", "host written in the URL (default: -host)")
	flag.Parse()

	lip := net.ParseIP(*laddr)
	if *target == "" || lip == nil || *lport == 0 {
		fmt.Fprintln(os.Stderr, "need -target, -laddr, -lport")
		os.Exit(2)
	}
	const dialTimeout, tlsHandshakeTimeout = 30 * time.Second, 10 * time.Second
	dialer := &net.Dialer{
		Timeout:   dialTimeout,
		KeepAlive: 30 * time.Second,
		LocalAddr: &net.TCPAddr{IP: lip, Port: *lport},
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", *target)
		},
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: *respHdrTimeout,
		MaxIdleConnsPerHost:   25,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     *h2,
	}
	if !*plain {
		pool := x509.NewCertPool()
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			pool.AppendCertsFromPEM(pem)
		}
		nextProtos := []string{"http/1.1"}
		if *h2 {
			nextProtos = []string{"h2", "http/1.1"}
		}
		cfg := &tls.Config{
			ServerName: *host,
			NextProtos: nextProtos,
			RootCAs:    pool,
			MinVersion: tls.VersionTLS12,
			// -insecure: what a webhook caller with insecureSkipTLSVerify does
			InsecureSkipVerify: *insecure,
		}
		if kl := os.Getenv("SSLKEYLOGFILE"); kl != "" {
			if f, err := os.OpenFile(kl, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
				cfg.KeyLogWriter = f
			}
		}
		if *maxTLS == "1.2" {
			cfg.MaxVersion = tls.VersionTLS12
		}
		tr.TLSClientConfig = cfg
	}
	client := &http.Client{Transport: tr, Timeout: *clientTimeout}
	cfgLine, _ := json.Marshal(config{
		Event: "config", LocalPort: *lport,
		ContextTimeoutS: timeout.Seconds(), ClientTimeoutS: clientTimeout.Seconds(),
		ResponseHeaderTimeout: respHdrTimeout.Seconds(),
		TLSHandshakeTimeoutS:  tlsHandshakeTimeout.Seconds(), DialTimeoutS: dialTimeout.Seconds(),
		InsecureSkipVerify: *insecure && !*plain,
		H2:                 *h2,
	})
	os.Stdout.Write(append(cfgLine, '\n'))

	lines := make(chan struct{}, 4)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- struct{}{}
		}
		close(lines)
	}()
	waitLine := func(what string) {
		emit(result{Event: "waiting-" + what, LocalPort: *lport})
		select {
		case <-lines:
		case <-time.After(*maxWait):
		}
	}

	for i := 1; i <= *n; i++ {
		if i > 1 {
			if *gate {
				waitLine("gate")
			} else {
				time.Sleep(*pause)
			}
		}
		secs := int((*timeout + time.Second - 1) / time.Second)
		var url string
		var body io.Reader
		method := http.MethodPost
		if *plain {
			method = http.MethodGet
			url = "http://" + net.JoinHostPort(*host, strconv.Itoa(*urlPort)) + *path
		} else if *methodFlag == http.MethodGet {
			method = http.MethodGet
			uh := *host
			if *urlHost != "" {
				uh = *urlHost
			}
			url = "https://" + net.JoinHostPort(uh, strconv.Itoa(*urlPort)) + *path
		} else {
			url = "https://" + net.JoinHostPort(*host, strconv.Itoa(*urlPort)) + *path +
				"?timeout=" + strconv.Itoa(secs) + "s"
			body = bytes.NewBufferString(admissionReview)
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		res := result{Event: "request", Req: i, LocalPort: *lport, URL: url}
		trace := &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { res.Reused = info.Reused },
		}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, url, body)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if *plain {
			req.Header.Set("User-Agent", "kube-probe/1.28")
			req.Header.Set("Accept", "*/*")
		} else if method == http.MethodGet {
			req.Header.Set("Accept", "application/json, */*")
			req.Header.Set("User-Agent", "kube-apiserver/v1.30.0 (linux/amd64) kubernetes/pcd")
		} else {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, */*")
			req.Header.Set("User-Agent", "kube-apiserver-admission")
		}
		start := time.Now()
		res.StartUnixNs = start.UnixNano()
		resp, err := client.Do(req)
		if err == nil {
			res.Status = resp.StatusCode
			if resp.TLS != nil {
				res.TLSVersion = tlsName(resp.TLS.Version)
				res.ALPN = resp.TLS.NegotiatedProtocol
				if *insecure && len(resp.TLS.PeerCertificates) > 0 {
					pc := resp.TLS.PeerCertificates[0]
					res.PeerCN = pc.Subject.CommonName
					res.PeerSANs = pc.DNSNames
					res.PeerNotAfter = pc.NotAfter.UTC().Format(time.RFC3339)
				}
			}
			b, rerr := io.ReadAll(resp.Body)
			res.BodyBytes = len(b)
			resp.Body.Close()
			if rerr != nil {
				res.Error = rerr.Error()
			}
		} else {
			res.Error = err.Error()
		}
		res.ElapsedMs = float64(time.Since(start).Microseconds()) / 1000.0
		cancel()
		emit(res)
	}
	if *hold {
		waitLine("hold")
	}
	tr.CloseIdleConnections()
	// Give the close a moment to reach the wire before the process exits.
	time.Sleep(100 * time.Millisecond)
	emit(result{Event: "exit", LocalPort: *lport})
}
