package cmdutil

import (
	"net/url"
	"strings"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
)

// PageURL is the incident page of ref (a short or full ID): under web.url, else under
// the quench server the CLI acts through (api.url), else under the quench dev whose
// credential is in the data dir. "" when none is known.
func PageURL(c *config.Config, ref string) string {
	base := c.Web.URL
	if base == "" {
		base = c.API.URL
	}
	if base == "" {
		if cred, err := apiclient.ReadCredential(c.DataDir); err == nil {
			base = cred.URL
		}
	}
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/incidents/" + url.PathEscape(ref)
}
