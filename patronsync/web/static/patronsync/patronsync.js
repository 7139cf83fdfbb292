// patronsync's few page behaviours that are not htmx: the copy buttons, and the institution
// every form is sent for.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  const done = () => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text.trim()).then(done);
  } else {
    // Plain http (a campus server without TLS): select the text and copy it the old way.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
    done();
  }
});

// A form writes into the institution its page showed, even when another tab has switched the
// session to another one since: each POST form carries the page's institution.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const code = document.body.dataset.institution;
  if (!code || (form.method || "").toLowerCase() !== "post" || form.elements.namedItem("institution")) return;
  const field = document.createElement("input");
  field.type = "hidden";
  field.name = "institution";
  field.value = code;
  form.appendChild(field);
});
