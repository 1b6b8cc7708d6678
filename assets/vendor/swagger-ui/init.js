// Backstop's own Swagger UI initializer (not part of swagger-ui-dist). It lives in a separate
// file because the Content-Security-Policy forbids inline scripts. Loaded after
// swagger-ui-bundle.js by the /api/docs page.
window.addEventListener('load', function () {
  'use strict';
  window.ui = SwaggerUIBundle({
    url: '/api/v1/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    // No online validator badge: it would send the spec to validator.swagger.io.
    validatorUrl: null,
  });
});
