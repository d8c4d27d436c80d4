// Runs before the first paint (a classic script in <head>): applies the stored theme.
// "system" (stored by older versions) means light, as does anything unknown.
(function () {
  var theme = 'light';
  try {
    if (localStorage.getItem('utter_theme') === 'dark') theme = 'dark';
  } catch (e) { /* storage blocked: keep light */ }
  var root = document.documentElement;
  root.classList.toggle('dark', theme === 'dark');
  root.style.colorScheme = theme;
  var meta = document.querySelector('meta[name="theme-color"]');
  if (meta) meta.setAttribute('content', theme === 'dark' ? '#0d0d0d' : '#ffffff');
})();
