// goserver: an admission webhook server built like real ones (net/http + crypto/tls).
//
// Modes (-mode):
//
//	ok         answer every POST with an allowed AdmissionReview (200)
//	sleep      read the request, then the handler just sleeps (-sleep), no answer
//	firstonly  answer the first request of each connection, sleep on later ones
//	close-fin  read the request, hijack, close the TCP socket (FIN, no close_notify)
//	close-rst  read the request, hijack, SO_LINGER 0 + close (RST)
//	panic      the handler panics: net/http closes the connection itself
//	probe      plain HTTP: GET /healthz -> 500, anything else -> 200
//	late       read the request, wait -delay (ignoring the client going away), then answer 200
//	big        answer 200 with an AdmissionReview of about -body-bytes bytes (a large JSON patch)
//	unavailable  read the request, answer 503 at once (an aggregated API server that is not ready)
//	goaway     read the request, start a graceful shutdown (HTTP/2: GOAWAY), then close every
//	           connection 0.2 s later without answering
//
// -h2 offers ALPN h2 (and http/1.1) and serves HTTP/2 with net/http's own h2 server.
// -plain serves HTTP without TLS (a TLS ClientHello gets "HTTP/1.1 400 Bad Request").
// The process exits by itself after -lifetime.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

type ctxKey struct{}

func main() {
	listen := flag.String("listen", "", "IP:port")
	certFile := flag.String("cert", "", "PEM certificate chain")
	keyFile := flag.String("key", "", "PEM key")
	maxTLS := flag.String("maxtls", "1.3", "1.2 or 1.3")
	mode := flag.String("mode", "ok", "ok|sleep|firstonly|close-fin|close-rst|panic|probe|late|big")
	plain := flag.Bool("plain", false, "serve plain HTTP")
	clientCA := flag.String("client-ca", "", "require and verify a client certificate from this CA")
	sleep := flag.Duration("sleep", 30*time.Second, "handler sleep for sleep/firstonly")
	delay := flag.Duration("delay", 11*time.Second, "late: how long after reading the request the answer is sent")
	bodyBytes := flag.Int("body-bytes", 50000, "big: approximate size of the response body")
	lifetime := flag.Duration("lifetime", 90*time.Second, "exit after this long")
	h2 := flag.Bool("h2", false, "offer ALPN h2 and serve HTTP/2")
	flag.Parse()

	logger := log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds)
	allowed := []byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",` +
		`"response":{"uid":"5b3c1a4e-8c1f-4c4a-9d2e-2f6c4c1d0a01","allowed":true}}`)

	// big: a mutating webhook's answer with a large JSON patch (one big annotation), deterministic
	// content, about -body-bytes long.
	bigBody := func() []byte {
		const head = `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",` +
			`"response":{"uid":"5b3c1a4e-8c1f-4c4a-9d2e-2f6c4c1d0a01","allowed":true,` +
			`"patchType":"JSONPatch","patch":"`
		const tail = `"}}`
		want := (*bodyBytes - len(head) - len(tail)) * 3 / 4 // base64 grows 4/3
		pre := `[{"op":"add","path":"/metadata/annotations","value":{"pcd.example.com/padding":"`
		post := `"}}]`
		n := want - len(pre) - len(post)
		if n < 0 {
			n = 0
		}
		patch := pre + string(bytes.Repeat([]byte("pcapdiag-"), n/9+1)[:n]) + post
		return []byte(head + base64.StdEncoding.EncodeToString([]byte(patch)) + tail)
	}()

	readBody := func(r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	}
	var srv *http.Server
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Printf("request %s %s %s from %s", r.Proto, r.Method, r.URL, r.RemoteAddr)
		switch *mode {
		case "ok":
			readBody(r)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write(allowed)
		case "sleep":
			readBody(r)
			time.Sleep(*sleep)
		case "firstonly":
			readBody(r)
			cnt := r.Context().Value(ctxKey{}).(*int32)
			if atomic.AddInt32(cnt, 1) > 1 {
				time.Sleep(*sleep)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(allowed)
		case "close-fin", "close-rst":
			readBody(r)
			hj, ok := w.(http.Hijacker)
			if !ok {
				logger.Printf("cannot hijack")
				return
			}
			c, _, err := hj.Hijack()
			if err != nil {
				logger.Printf("hijack: %v", err)
				return
			}
			raw := c
			if tc, ok := c.(*tls.Conn); ok {
				raw = tc.NetConn() // close the TCP socket itself: no close_notify
			}
			if *mode == "close-rst" {
				if tcp, ok := raw.(*net.TCPConn); ok {
					tcp.SetLinger(0)
				}
			}
			raw.Close()
			logger.Printf("closed %s (%s)", r.RemoteAddr, *mode)
		case "panic":
			readBody(r)
			panic("pcd: handler panic")
		case "late":
			readBody(r)
			start := time.Now()
			time.Sleep(*delay) // answers whether or not the client is still there
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write(allowed)
			logger.Printf("answered %s after %v (client context: %v)", r.RemoteAddr,
				time.Since(start).Round(time.Millisecond), r.Context().Err())
		case "big":
			readBody(r)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write(bigBody)
			logger.Printf("answered %s with %d body bytes", r.RemoteAddr, len(bigBody))
		case "unavailable":
			readBody(r)
			http.Error(w, "service unavailable: pcd test", http.StatusServiceUnavailable)
		case "goaway":
			readBody(r)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				defer cancel()
				logger.Printf("shutdown %s: %v", r.RemoteAddr, srv.Shutdown(ctx))
				logger.Printf("close %s: %v", r.RemoteAddr, srv.Close())
			}()
			<-r.Context().Done()
		case "probe":
			if r.URL.Path == "/healthz" {
				http.Error(w, "unhealthy: pcd test", http.StatusInternalServerError)
				return
			}
			w.Write([]byte("ok"))
		default:
			http.Error(w, "bad mode", http.StatusInternalServerError)
		}
	})

	srv = &http.Server{
		Handler:  handler,
		ErrorLog: logger,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, new(int32))
		},
	}
	if !*h2 {
		// No h2: webhook servers commonly disable it, and the client only offers http/1.1.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logger.Fatal(err)
	}
	if !*plain {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			logger.Fatal(err)
		}
		cfg := &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"},
		}
		if *h2 {
			cfg.NextProtos = []string{"h2", "http/1.1"}
		}
		if kl := os.Getenv("SSLKEYLOGFILE"); kl != "" {
			if f, err := os.OpenFile(kl, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
				cfg.KeyLogWriter = f
			}
		}
		if *maxTLS == "1.2" {
			cfg.MaxVersion = tls.VersionTLS12
		}
		if *clientCA != "" {
			pem, err := os.ReadFile(*clientCA)
			if err != nil {
				logger.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			cfg.ClientCAs = pool
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
		ln = tls.NewListener(ln, cfg)
	}
	go func() {
		time.Sleep(*lifetime)
		os.Exit(0)
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	os.Stdout.Sync()
	logger.Printf("serve: %v", srv.Serve(ln))
	// Serve returns as soon as Shutdown closes the listener (goaway): connections still being
	// shut down live on until the lifetime ends.
	select {}
}
