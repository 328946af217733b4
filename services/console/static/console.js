// The console's only script, served by the console itself (no CDN): live checks at the window
// as the clerk types, the repeat check, the lawful-route guide for the chosen category, the
// channel's own block, more petitioners on demand, and printing the receipt. The services check
// everything again.
"use strict";

// GB 11643: weights of the first 17 digits and the check character for each sum mod 11.
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

function idProblem(value) {
  if (!/^\d{17}[\dXx]$/.test(value)) return "须为18位：17位数字加一位数字或X";
  const y = +value.slice(6, 10), m = +value.slice(10, 12), d = +value.slice(12, 14);
  const born = new Date(y, m - 1, d);
  if (born.getFullYear() !== y || born.getMonth() !== m - 1 || born.getDate() !== d) return "出生日期不对";
  if (born > new Date() || y < 1900) return "出生日期不对";
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += +value[i] * ID_WEIGHTS[i];
  if (value[17].toUpperCase() !== ID_CHECK[sum % 11]) return "校验位不对";
  return null;
}

function phoneProblem(value) {
  const digits = value.replace(/[\s()]/g, "").replace(/^(\+86|0086)/, "");
  return /^1[3-9]\d{9}$/.test(digits) || /^0\d{2,3}-?\d{7,8}$/.test(digits) ? null : "须为11位手机号或带区号的固定电话";
}

const CHECKS = {id: idProblem, phone: phoneProblem};

function liveCheck(input) {
  const out = document.querySelector(`[data-live-for="${input.name}"]`);
  const value = input.value.trim();
  const problem = value ? CHECKS[input.dataset.check](value) : null;
  input.classList.toggle("bad", !!problem);
  input.classList.toggle("good", !!value && !problem);
  if (out) out.textContent = problem ? problem : value ? "✓" : "";
}

function showGuide(select) {
  const panel = document.getElementById("guide");
  const option = select.selectedOptions[0];
  if (!panel || !option || !option.value) { if (panel) panel.hidden = true; return; }
  for (const key of ["class", "route", "basis", "others"]) {
    panel.querySelector(`[data-guide="${key}"]`).textContent = option.dataset[key] || "—";
  }
  panel.querySelector('[data-guide="outside"]').hidden = option.dataset.outside !== "yes";
  panel.hidden = false;
}

function showChannel(select) {
  for (const block of document.querySelectorAll("fieldset[data-channel]")) {
    block.hidden = block.dataset.channel !== select.value;
  }
}

function showPetitioners() {
  const anonymous = document.getElementById("anonymous");
  const hide = anonymous && anonymous.checked;
  for (const p of document.querySelectorAll("fieldset.petitioner")) p.hidden = hide || p.hasAttribute("data-spare");
  const more = document.getElementById("add-petitioner");
  if (more) more.hidden = hide || !document.querySelector("fieldset.petitioner[data-spare]");
}

// A field edited after the service refused it: its old message no longer applies.
function clearRefusal(input) {
  const field = input.closest(".field");
  if (field) field.classList.remove("invalid");
  const refusal = document.querySelector(`[data-error-for="${input.name}"]`);
  if (refusal) refusal.remove();
}

// The repeat check (查重): once a place, a category and a well-formed ID number or phone are
// typed, intake is asked whether registering would link to an earlier case. Only a help:
// registering decides, so a failed check just shows nothing.
let repeatTimer = null, lastProbe = null, repeatAsked = 0;

function repeatProbe(form) {
  const data = new URLSearchParams();
  let person = false;
  for (const [name, value] of new FormData(form)) {
    const input = form.elements[name];
    const check = input && input.dataset && input.dataset.check;
    if (check) {
      if (!value.trim() || CHECKS[check](value.trim())) continue;
      person = true;
    } else if (!["csrf", "location", "category"].includes(name)) continue;
    data.append(name, value);
  }
  return person && data.get("category") ? data : null;
}

function checkRepeat(form) {
  clearTimeout(repeatTimer);
  repeatTimer = setTimeout(async () => {
    const box = document.getElementById("repeat");
    const probe = repeatProbe(form);
    if (probe && probe.toString() === lastProbe) return;
    lastProbe = probe && probe.toString();
    const asked = ++repeatAsked;
    let found = {repeat: false};
    if (probe) {
      try {
        const r = await fetch(box.dataset.checkUrl, {method: "POST", body: probe, credentials: "same-origin"});
        if (r.ok && (r.headers.get("Content-Type") || "").startsWith("application/json")) found = await r.json();
      } catch (e) { /* no answer: no notice */ }
    }
    if (asked !== repeatAsked) return;  // a later question was asked meanwhile: its answer counts
    box.hidden = !found.repeat;
    box.querySelector('[data-repeat="known"]').hidden = !found.number;
    box.querySelector('[data-repeat="hidden"]').hidden = !!found.number;
    if (found.number) {
      const link = box.querySelector('[data-repeat="link"]');
      link.textContent = found.number;
      link.href = found.url;
      box.querySelector('[data-repeat="subject"]').textContent = found.subject;
      box.querySelector('[data-repeat="registered"]').textContent = found.registered;
      box.querySelector('[data-repeat="count"]').textContent = found.repeat_count;
    }
  }, 400);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("form input, form select, form textarea")) {
    input.addEventListener("input", () => clearRefusal(input));
  }
  for (const input of document.querySelectorAll("input[data-check]")) {
    input.addEventListener("input", () => liveCheck(input));
    if (input.value) liveCheck(input);
  }
  const category = document.getElementById("category");
  if (category) { category.addEventListener("change", () => showGuide(category)); showGuide(category); }
  const channel = document.getElementById("channel");
  if (channel) { channel.addEventListener("change", () => showChannel(channel)); showChannel(channel); }
  const anonymous = document.getElementById("anonymous");
  if (anonymous) anonymous.addEventListener("change", showPetitioners);
  const more = document.getElementById("add-petitioner");
  if (more) more.addEventListener("click", () => {
    const spare = document.querySelector("fieldset.petitioner[data-spare]");
    if (spare) spare.removeAttribute("data-spare");
    showPetitioners();
  });
  if (document.querySelector("fieldset.petitioner")) showPetitioners();
  for (const button of document.querySelectorAll("[data-print]")) button.addEventListener("click", () => window.print());
  const register = document.getElementById("register");
  if (register && document.getElementById("repeat")) {
    register.addEventListener("input", (e) => {
      if (/^(location|category|petitioners\.\d+\.(id_number|phone))$/.test(e.target.name)) checkRepeat(register);
    });
    register.addEventListener("change", (e) => {
      if (e.target.tagName === "SELECT") checkRepeat(register);
    });
    checkRepeat(register);
  }
});
