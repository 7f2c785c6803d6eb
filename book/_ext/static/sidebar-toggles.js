/* The sidebar buttons at every width (pydata-sphinx-theme issue 2451).
 *
 * sphinx-book-theme 1.3 adds its own "primary-toggle" and "secondary-toggle" buttons to the
 * article header and hides pydata-sphinx-theme 0.17's header buttons of the same classes. Both
 * themes bind their click handlers to document.querySelector(".primary-toggle"), the first of
 * the two in the page: the hidden one. So the visible button does nothing: no contents dialog
 * on a narrow screen, no collapsed sidebar on a wide one. This script forwards a click on any
 * other toggle to the bound one, so that the themes' own behaviour runs unchanged, and closes
 * a sidebar dialog when a link in it is followed (a section of this page, which stays open).
 */
(function () {
  function forwardClicks(selector) {
    var buttons = document.querySelectorAll(selector);
    if (buttons.length < 2) return;
    var bound = buttons[0];
    Array.prototype.slice.call(buttons, 1).forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        button.blur(); // no tooltip left behind on the button
        bound.click();
      });
    });
  }
  function closeOnLink(dialogId) {
    var dialog = document.getElementById(dialogId);
    if (!dialog) return;
    dialog.addEventListener("click", function (event) {
      if (dialog.open && event.target.closest && event.target.closest("a[href]")) dialog.close();
    });
  }
  function setUp() {
    forwardClicks("button.primary-toggle");
    forwardClicks("button.secondary-toggle");
    closeOnLink("pst-primary-sidebar-modal");
    closeOnLink("pst-secondary-sidebar-modal");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
