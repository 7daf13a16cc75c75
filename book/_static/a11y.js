// Fixes to the theme (sphinx-book-theme 1.3 / pydata-sphinx-theme), checked by tests/test_browser.py.
// Accessibility, found by axe-core: a button's accessible name must contain the text it shows
// (label-content-name-mismatch, WCAG 2.5.3 "label in name"), and all content must be inside a
// landmark (region). Downloads: the download menu's .md and .ipynb links save the file.
(function () {
  "use strict";

  function fix() {
    // The primary sidebar (logo, search, the book's chapters) was a plain <div>: its logo link
    // was the only content outside a landmark. It is the book's navigation; the "Main" nav of
    // chapters inside it keeps its own name.
    var sidebar = document.getElementById("pst-primary-sidebar");
    if (sidebar && !sidebar.hasAttribute("role")) {
      sidebar.setAttribute("role", "navigation");
      sidebar.setAttribute("aria-label", "Book");
    }
    // The search button shows "Search Ctrl+K" but was named "Search": let its content name it.
    document.querySelectorAll(".search-button__button[aria-label]").forEach(function (button) {
      button.removeAttribute("aria-label");
    });
    // The colour-mode button is named "Color mode"; the titles of its icons (Light, Dark,
    // System Settings, shown by Font Awesome as SVG <title>s) made it show other text.
    // The icons are decoration: the button's name says what it does.
    document.querySelectorAll(".theme-switch-button .theme-switch").forEach(function (icon) {
      icon.removeAttribute("title");
      if (icon.tagName.toLowerCase() === "svg") {
        icon.querySelectorAll("title").forEach(function (title) { title.remove(); });
        icon.removeAttribute("aria-labelledby");
        icon.removeAttribute("role");
        icon.setAttribute("aria-hidden", "true");
      }
    });
    // The download menu's links opened the file in a new tab, where many static hosts show an
    // .ipynb as raw JSON: `download` saves it under its own name (loss.ipynb) instead; the
    // notebook without outputs as loss-no-outputs.ipynb, beside the executed loss.ipynb.
    document.querySelectorAll("a[class*='btn-download-'][href]").forEach(function (link) {
      var name = link.pathname.split("/").pop();
      if (link.classList.contains("btn-download-blank-notebook-button")) {
        name = name.replace(/\.ipynb$/, "-no-outputs.ipynb");
      }
      link.setAttribute("download", name);
      link.removeAttribute("target");
    });
  }

  // Font Awesome turns the <i> icons into <svg> when the page has loaded: fix before and after.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fix);
  } else {
    fix();
  }
  window.addEventListener("load", fix);
})();
