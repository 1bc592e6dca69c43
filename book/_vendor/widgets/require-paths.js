/* Our own, not vendored. The widget manager (embed-amd.js) loads its icon fonts from the folder
 * of its AMD module, which require.js resolves against the page: book/generated/@jupyter-widgets/
 * html-manager/dist/, where nothing is. This maps that module folder to the vendored copy in
 * _static/widgets/ (the three .woff2 files beside embed-amd.js), on pages at any depth. */
(function () {
  var root = new URL(document.documentElement.dataset.content_root || "./", document.baseURI);
  require.config({
    paths: { "@jupyter-widgets/html-manager/dist": new URL("_static/widgets", root).href }
  });
})();
