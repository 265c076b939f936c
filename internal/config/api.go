package config

import (
	"fmt"
	"net"
	"net/url"
)

func (a API) problems() []string {
	var problems []string
	if a.Token != "" && !isSecretRef(a.Token) {
		problems = append(problems, "api.token: write env:NAME or file:/path, never the token itself")
	}
	if a.URL == "" {
		if a.Token != "" {
			problems = append(problems, "api.token is set without api.url: give the URL of the quench server the CLI acts through")
		}
		return problems
	}
	u, err := url.Parse(a.URL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil:
		problems = append(problems, fmt.Sprintf("api.url %q: write https://host[:port]", a.URL))
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		problems = append(problems, fmt.Sprintf("api.url %q would send the token in clear text: use https:// (http:// only to localhost)", a.URL))
	}
	if a.Token == "" {
		problems = append(problems, "api.url is set without api.token: give the CLI's token as env:NAME or file:/path")
	}
	return problems
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
