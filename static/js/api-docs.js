// The API's document for people (/api/docs): the vendored swagger-ui, started from this file so
// the page's Content-Security-Policy needs no inline script.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#api-docs",
    deepLinking: true,
    defaultModelsExpandDepth: 0,
  });
});
