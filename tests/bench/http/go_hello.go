// A peer of the HTTP benchmark (tools/bench/http): a hello-world server on Go's net/http.
// GET (or HEAD) "/" answers "Hello, World!" as text/plain; anything else is a 404 or 405.
// net/http's defaults otherwise (keep-alive on, one goroutine per connection).
//
// The benchmark runs it with GOMAXPROCS=1 (one core, like the other servers) and builds it
// itself: go build -o <build>/bench-go/go_hello tests/bench/http/go_hello.go
// (standard library only: no module, no network).
//
// Usage: go_hello [--host 127.0.0.1] [--port 0] [--tls-cert C --tls-key K]
// With a certificate and key (PEM) it serves HTTPS (http.ServeTLS; without ALPN from the
// client, as wrk's, that is HTTP/1.1). The first line on stdout is the bound port. SIGTERM or SIGINT ends it (default action).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 0, "port to listen on (0: any free port)")
	cert := flag.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	key := flag.String("tls-key", "", "and this private key (PEM)")
	flag.Parse()

	body := []byte("Hello, World!")
	length := strconv.Itoa(len(body))
	mux := http.NewServeMux()
	// "/" is a subtree pattern in ServeMux (it matches every path): check the path here.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", length)
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	})

	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_hello:", err)
		os.Exit(1)
	}
	// os.Stdout is not buffered: the port is out before Serve accepts.
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	if *cert != "" {
		err = http.ServeTLS(ln, mux, *cert, *key)
	} else {
		err = http.Serve(ln, mux)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_hello:", err)
		os.Exit(1)
	}
}
