/* Our own shim, not vendored. @jupyter-widgets/html-manager 1.0.6 typesets widget labels with
 * MathJax 2's `MathJax.Hub.Queue`, but the book loads MathJax 3 (or, offline, none), so every
 * labelled widget threw "Cannot read properties of undefined (reading 'Queue')". This keeps a
 * `Hub.Queue` on whatever object `window.MathJax` is, forwarding to MathJax 3's typesetPromise. */
(function () {
  var current = window.MathJax;
  var hub = {
    Queue: function (job) {
      var element = Array.isArray(job) ? job[2] : null;
      if (current && typeof current.typesetPromise === "function" && element) {
        current.typesetPromise([element]).catch(function () {});
      }
    }
  };
  function withHub(value) {
    if (value && typeof value === "object" && !value.Hub) {
      try { Object.defineProperty(value, "Hub", { value: hub, enumerable: false, configurable: true }); } catch (e) {}
    }
    return value;
  }
  current = withHub(current || {});
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); }
  });
})();
