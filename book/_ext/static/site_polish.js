// Local fixes for the course site (added by book/_ext/site_polish.py).
//
// Phones: the book theme's header puts its own "Toggle primary/secondary sidebar" buttons
// beside the ones of pydata-sphinx-theme, and pydata's script opens its <dialog> only from the
// first button of each kind (document.querySelector), so on a narrow screen the visible
// button did nothing. Every other button of the same kind now clicks the first one.
(function () {
  function forward(kind) {
    const buttons = Array.from(document.querySelectorAll("." + kind));
    if (buttons.length < 2) {
      return;
    }
    const first = buttons[0];
    buttons.slice(1).forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        first.click();
      });
    });
  }
  function setUp() {
    forward("primary-toggle");
    forward("secondary-toggle");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
