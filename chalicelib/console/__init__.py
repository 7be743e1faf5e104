"""The web console at `/console`: one HTML page and its ES modules, served by the Chalice app itself.

The page calls only the public JSON API (with the key or Cognito token the user signed in with), so
it works wherever the API does: behind the local server and behind API Gateway (under the stage's
path, e.g. `/api/console`). `routes` is the blueprint, `assets` the files and their headers,
`config` what the page needs to know about sign-in (API key, or Cognito's hosted UI on AWS).
"""

from chalicelib.console.routes import bp

__all__ = ["bp"]
