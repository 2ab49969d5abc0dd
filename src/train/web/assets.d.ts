// What the page's bundler (esbuild, ./bundle.node.ts) loads besides TypeScript: a stylesheet
// imported for its effect goes to main.css, which index.html links.
declare module '*.css';
