// The API's document for people (/api/docs): the vendored swagger-ui, started from this file so
// the page's Content-Security-Policy needs no inline script.
"use strict";
// The document's address comes from the page (data-document), which builds it from the route's name.
window.addEventListener("DOMContentLoaded", function () {
  window.SwaggerUIBundle({
    url: document.getElementById("api-docs").dataset.document,
    dom_id: "#api-docs",
    deepLinking: true,
    defaultModelsExpandDepth: 0,
  });
});
