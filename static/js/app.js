// Page behaviour shared by every page, loaded with defer (no inline scripts).
//
// - Copy buttons: <button data-copy="element-id"> copies that element's text or
//   value and reports it in the element named by aria-describedby.
// - Busy forms: a submit button with data-busy="text" shows that text in the
//   form's [data-progress] element while the request runs, and a second click
//   does not submit the form again.
(function () {
  "use strict";

  function textOf(target) {
    return "value" in target ? target.value : target.textContent.trim();
  }

  function fallbackCopy(text) {
    var box = document.createElement("textarea");
    box.value = text;
    box.setAttribute("readonly", "");
    box.style.position = "absolute";
    box.style.left = "-9999px";
    document.body.appendChild(box);
    box.select();
    var copied = document.execCommand("copy");
    document.body.removeChild(box);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  function announce(button, text) {
    var status = document.getElementById(button.getAttribute("aria-describedby"));
    if (!status) return;
    status.textContent = text;
    setTimeout(function () { status.textContent = ""; }, 4000);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.dataset.copy);
      if (!target) return;
      copy(textOf(target)).then(
        function () { announce(button, "Copied."); },
        function () { announce(button, "Copy failed: select the URL and copy it."); }
      );
    });
  });

  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.submitting) {
        event.preventDefault();
        return;
      }
      form.dataset.submitting = "1";
      var button = event.submitter;
      var progress = form.querySelector("[data-progress]");
      if (button && button.dataset.busy && progress) {
        progress.textContent = button.dataset.busy;
        progress.classList.add("busy");
      }
      form.setAttribute("aria-busy", "true");
    });
  });

  // A page restored from the back/forward cache may be submitted again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
      form.removeAttribute("aria-busy");
    });
  });
})();
