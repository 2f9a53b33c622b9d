"""The pages: plain HTML, a little CSS and JavaScript (EventSource), Chinese labels.
Readable on a wall screen and on a 1366×768 agent PC; nothing loaded from elsewhere."""

from __future__ import annotations

from html import escape

_BASE_CSS = """
*{box-sizing:border-box}body{margin:0;font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",
"Microsoft YaHei",sans-serif;background:#0f1c2e;color:#e8eef6}
header{display:flex;justify-content:space-between;align-items:center;padding:.6em 1.2em;
background:#13294b}header h1{margin:0;font-size:1.4em}header form{margin:0}
button{font:inherit;padding:.4em 1.1em;border:0;border-radius:4px;cursor:pointer}
main{padding:.7em 1.2em}.card{background:#182c47;border-radius:6px;padding:.6em 1em;margin:0 0 .7em}
h2{font-size:1.15em;margin:.2em 0 .5em}
.muted{color:#9fb2c8}.good{color:#5fd38d}.bad{color:#ff6b6b}
table{border-collapse:collapse;width:100%}td,th{padding:.3em .5em;text-align:left;
border-bottom:1px solid #24405f}
"""

_LOGIN = """<!doctype html><html lang=zh><meta charset=utf-8>
<meta name=viewport content="width=device-width,initial-scale=1"><title>12345 登录</title>
<style>{css}form.login{{max-width:22em;margin:12vh auto;background:#182c47;padding:2em;border-radius:8px}}
form.login input{{display:block;width:100%;margin:.3em 0 1em;padding:.5em;font:inherit}}</style>
<form class=login method=post action=/login><h1>12345 热线 · 登录</h1>
<p class=bad>{error}</p><label>工号 ID<input name=user id=user autocomplete=username required></label>
<label>密码 password<input name=password id=password type=password autocomplete=current-password
required></label><button id=login type=submit>登录 log in</button></form></html>
"""


def login_page(error: str = "") -> str:
    """The login form."""
    return _LOGIN.format(css=_BASE_CSS, error=escape(error))


def _header(title: str, name: str, role: str, csrf: str) -> str:
    return (f"<header><h1>{escape(title)}</h1><div><span id=me>{escape(name)}（"
            f"{'值班长' if role == 'supervisor' else '坐席'}）</span> "
            f"<form method=post action=/logout style='display:inline'>"
            f"<input type=hidden name=csrf value='{escape(csrf)}'>"
            "<button id=logout>退出 log out</button></form></div></header>")


_ESC_JS = """
const ESC={'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'};
const esc=v=>String(v??'').replace(/[&<>"']/g,c=>ESC[c]);
"""

_WALLBOARD_JS = _ESC_JS + """
const pct=v=>v==null?'–':(100*v).toFixed(1)+'%';
const STATE={available:'空闲',ringing:'振铃',on_call:'通话',wrap_up:'话后',paused:'小休',
 logged_out:'未登录'};
function render(d){
 const k=d.kpis;
 document.getElementById('waiting').textContent=d.waiting;
 document.getElementById('offered').textContent=k.offered;
 document.getElementById('answered').textContent=k.answered;
 document.getElementById('abandoned').textContent=k.abandoned;
 const sl=document.getElementById('sl');sl.textContent=pct(k.within_target_share);
 sl.className=k.within_target_share==null?'':(k.within_target_share>=k.target_share?'good':'bad');
 const cr=document.getElementById('conn');cr.textContent=pct(k.connection_rate);
 cr.className=k.connection_rate==null?'':(k.connection_rate>=k.target_share?'good':'bad');
 document.getElementById('avgwait').textContent=k.avg_wait_s==null?'–':k.avg_wait_s.toFixed(1)+' 秒';
 document.getElementById('queues').innerHTML=d.queues.length?d.queues.map(q=>
  `<tr><td>${esc(q.skill)}</td><td class=waiting>${q.waiting}</td>
   <td>${q.longest_wait_s.toFixed(0)} 秒</td></tr>`
 ).join(''):'<tr><td colspan=3 class=muted>无排队 nobody waiting</td></tr>';
 document.getElementById('states').innerHTML=Object.entries(d.agents).map(([s,n])=>
  `<span class="st st-${esc(s)}">${esc(STATE[s]||s)}
   <b id="agents-${esc(s)}">${n}</b></span>`).join('');
 document.getElementById('agentlist').innerHTML=d.agent_list.map(a=>
  `<tr><td>${esc(a.id)}</td><td>${esc(a.name)}</td>
   <td class="st-${esc(a.state)}">${esc(STATE[a.state]||a.state)}</td>
   <td>${MONITOR&&a.state==='on_call'?['listen','whisper','barge'].map(m=>
     `<button class=mon data-agent="${esc(a.id)}" data-mode="${m}">${MODES[m]}</button>`
   ).join(' '):''}</td></tr>`
 ).join('');
 document.querySelectorAll('button.mon').forEach(b=>b.onclick=()=>monitor(b.dataset.agent,b.dataset.mode));
 const top=Math.max(1,...d.hourly);
 document.getElementById('curve').innerHTML=d.hourly.map((n,h)=>
  `<div class=col title="${h}时: ${n}"><div class=bar style="height:${Math.round(120*n/top)}px"></div>
   <div class=ans style="height:${Math.round(120*d.hourly_answered[h]/top)}px"></div><span>${h}</span></div>`
 ).join('');
 document.getElementById('updated').textContent=new Date(d.at).toLocaleTimeString('zh-CN');
}
const MONITOR=document.body.dataset.monitor==='1';
const MODES={listen:'监听',whisper:'密语',barge:'强插'};
async function monitor(agent,mode){
 const r=await fetch('/api/supervise',{method:'POST',
  headers:{'X-CSRF-Token':document.body.dataset.csrf,'Content-Type':'application/json'},
  body:JSON.stringify({agent,mode})});
 document.getElementById('updated').textContent=r.ok?'话机振铃中 your phone rings':'失败: '+(await r.text());
}
const es=new EventSource('/events');
es.onmessage=e=>render(JSON.parse(e.data));
es.onerror=()=>document.getElementById('updated').textContent='连接中断，重连中…';
"""

_WALLBOARD_CSS = """
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(9em,1fr));gap:.8em;margin-bottom:1em}
.kpi{background:#182c47;border-radius:6px;padding:.6em .8em}.kpi b{display:block;font-size:2.2em}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.st{display:inline-block;margin:0 1em .5em 0;font-size:1.2em}.st b{font-size:1.4em}
.st-available{color:#5fd38d}.st-ringing{color:#ffd166}.st-on_call{color:#4fa3ff}
.st-wrap_up{color:#c9a0ff}.st-paused{color:#ff9f43}.st-logged_out{color:#6c7f96}
#curve{display:flex;align-items:flex-end;gap:3px;height:150px}
.col{position:relative;flex:1;display:flex;flex-direction:column;justify-content:flex-end;height:100%}
.bar{background:#3d6aa6}.ans{background:#5fd38d;position:absolute;bottom:1.2em;left:25%;width:50%}
.col span{font-size:.7em;text-align:center;height:1.2em;color:#9fb2c8}
"""


def wallboard_page(name: str, csrf: str, monitor: bool = False) -> str:
    """The supervisor's wallboard (大屏); ``monitor``: listen/whisper/barge buttons on agents
    in a call (a supervisor with a phone)."""
    return (
        f"<!doctype html><html lang=zh><meta charset=utf-8><title>12345 热线大屏</title>"
        f"<body data-csrf='{escape(csrf)}' data-monitor='{1 if monitor else 0}'>"
        f"<style>{_BASE_CSS}{_WALLBOARD_CSS}</style>"
        + _header("12345 热线 · 实时大屏", name, "supervisor", csrf)
        + "<main><div class=kpis>"
        "<div class=kpi>排队 waiting<b id=waiting>–</b></div>"
        "<div class=kpi>今日呼入 offered<b id=offered>–</b></div>"
        "<div class=kpi>人工接听 answered<b id=answered>–</b></div>"
        "<div class=kpi>15秒接通率 (目标 95%)<b id=sl>–</b></div>"
        "<div class=kpi>24小时接通率 (目标 95%)<b id=conn>–</b></div>"
        "<div class=kpi>放弃 abandoned<b id=abandoned>–</b></div>"
        "<div class=kpi>平均等待 avg wait<b id=avgwait>–</b></div></div>"
        "<div class=grid><div class=card><h2>各技能队列 queues</h2><table><thead><tr><th>技能 skill</th>"
        "<th>排队</th><th>最长等待</th></tr></thead><tbody id=queues></tbody></table></div>"
        "<div class=card><h2>坐席状态 agents</h2><div id=states></div><table><tbody id=agentlist>"
        "</tbody></table></div></div>"
        "<div class=card><h2>今日每小时话务 (蓝: 呼入, 绿: 接听)</h2><div id=curve></div></div>"
        "<p class=muted>更新于 <span id=updated>–</span></p></main>"
        f"<script>{_WALLBOARD_JS}</script></body></html>\n"
    )


_DESK_JS = _ESC_JS + """
const STATE={available:'空闲',ringing:'振铃',on_call:'通话中',wrap_up:'话后处理',paused:'小休',
 logged_out:'未登录'};
const PHASE={active:'正常',transition:'过渡期',cancelled:'已取消',not_yet_merged:'未归并'};
const MODE={whole_merge:'整体并入',dual_number:'双号并行',sub_center:'设分中心'};
const CALL={ringing:'来电振铃',talking:'通话中',ended:'已结束'};
const OUTCOME={answered:'坐席接听',connected:'已接通',abandoned:'放弃',callback:'待回拨',
 fallback:'转兜底席',unanswered:'未接通',live:'进行中'};
const ORDER={open:'待派发',sent:'已派发',acknowledged:'已送达',accepted:'已签收',returned:'已退回'};
const when=v=>v?new Date(v).toLocaleString('zh-CN',{hour12:false}):'–';
function past(c){
 const h=c.history,o=c.orders;
 const calls=h==null?'<p class=muted>查询中… looking up</p>':h.length?`<table id=history>
  <tr><th>时间 time</th><th>线路 line</th><th>结果 outcome</th></tr>${h.map(x=>
  `<tr class=earlier data-call="${esc(x.call_id)}"><td>${esc(when(x.at))}</td>
   <td>${esc(x.number)} ${esc(x.line_name)}</td>
   <td class=outcome>${esc(OUTCOME[x.outcome]||x.outcome)}</td></tr>`).join('')}</table>`
  :'<p id=history class=muted>无历史来电 first call</p>';
 const orders=o==null?'':o.length?`<table id=orders>
  <tr><th>工单 order</th><th>部门 department</th><th>状态 status</th><th>摘要 summary</th></tr>${o.map(x=>
  `<tr class=order><td>${esc(x.id)}</td><td>${esc(x.department)}</td>
   <td>${esc(ORDER[x.status]||x.status)}</td><td>${esc(x.summary)}</td></tr>`).join('')}</table>`
  :'<p id=orders class=muted>无未办结工单 no open work orders</p>';
 return `<h2>历史来电 earlier calls</h2>${calls}<h2>未办结工单 open work orders</h2>${orders}`;
}
const csrf=document.body.dataset.csrf;
function render(d){
 const st=document.getElementById('state');
 st.textContent=STATE[d.agent.state]||d.agent.state;st.dataset.state=d.agent.state;
 const c=d.call,box=document.getElementById('call');
 if(!c){box.dataset.call='';box.innerHTML='<p class=muted>暂无来电 no call</p>';return;}
 box.dataset.call=c.call_id;
 const cls=c.classification;
 const heard=cls?[cls.domain,cls.request_type,cls.urgency].filter(Boolean).join(' / '):'未分类 none';
 box.innerHTML=`<p id=callstate class=call-${esc(c.state)}>${esc(CALL[c.state]||c.state)}</p>
  <table><tr><th>来电号码 caller</th><td id=caller>${esc(c.caller||'未知')}</td></tr>
  <tr><th>拨打线路 line</th><td id=line>${esc(c.number)} ${esc(c.line_name)}</td></tr>
  <tr><th>归并方式/阶段 mode/phase</th>
   <td id=phase>${esc(MODE[c.mode]||c.mode||'12345')} · ${esc(PHASE[c.phase]||c.phase)}</td></tr>
  <tr><th>语音分类 classification</th><td id=classification>${esc(heard)}</td></tr>
  <tr><th>来电内容 transcript</th><td id=transcript>${esc(c.transcript||'–')}</td></tr></table>
  <div id=past>${past(c)}</div>`;
}
async function act(what){
 const r=await fetch('/api/'+what,{method:'POST',headers:{'X-CSRF-Token':csrf}});
 document.getElementById('result').textContent=r.ok?'':'失败: '+(await r.text());
}
async function transfer(target){
 const summary=document.getElementById('summary').value;
 const r=await fetch('/api/transfer',{method:'POST',headers:{'X-CSRF-Token':csrf,
  'Content-Type':'application/json'},body:JSON.stringify({target,summary})});
 document.getElementById('result').textContent=r.ok?'已转接 transferred':'失败: '+(await r.text());
}
document.querySelectorAll('button.xfer').forEach(b=>b.onclick=()=>transfer(b.dataset.target||
 document.getElementById('xfer-endpoint').value));
document.getElementById('pause').onclick=()=>act('pause');
document.getElementById('resume').onclick=()=>act('resume');
const es=new EventSource('/events');
es.onmessage=e=>render(JSON.parse(e.data));
"""


def desk_page(name: str, csrf: str, endpoints: dict[str, str] | None = None) -> str:
    """An agent's desk: the call offered (screen pop), pause/resume, transfers (the line's
    sub-center, the emergency services, or any transferable ``endpoints``: name -> label)."""
    options = "".join(f"<option value='{escape(n)}'>{escape(label)}</option>"
                      for n, label in (endpoints or {}).items())
    chooser = (f"<p><select id=xfer-endpoint>{options}</select> "
               "<button class=xfer id=xfer-endpoint-go>转接所选 transfer</button></p>"
               if options else "")
    return (
        "<!doctype html><html lang=zh><meta charset=utf-8><title>12345 坐席工作台</title>"
        f"<style>{_BASE_CSS}#state{{font-size:1.6em}}#call th{{width:12em;color:#9fb2c8}}"
        "#callstate{font-size:1.4em}#past h2{margin-top:.8em}"
        "#past th{width:auto}.call-ringing{color:#ffd166}.call-talking{color:#4fa3ff}"
        "#pause{background:#ff9f43}#resume{background:#5fd38d}.xfer{background:#4fa3ff;margin:.2em}"
        "#xfer-110,#xfer-119,#xfer-120,#xfer-122{background:#ff6b6b}</style>"
        f"<body data-csrf='{escape(csrf)}'>"
        + _header("12345 热线 · 坐席工作台", name, "agent", csrf)
        + "<main><div class=card>状态 state: <b id=state>–</b> "
        "<button id=pause>小休 pause</button> <button id=resume>恢复 resume</button> "
        "<span id=result class=bad></span></div>"
        "<div class=card><h2>当前来电 current call</h2><div id=call><p class=muted>暂无来电</p></div></div>"
        "<div class=card><h2>转接 transfer</h2>"
        "<button class=xfer id=xfer-line data-target=line>转本线路分中心 line's sub-center</button> "
        + " ".join(f"<button class=xfer id=xfer-{n} data-target={n}>{n}</button>"
                   for n in ("110", "119", "120", "122"))
        + chooser + "<p><label>工单摘要 work-order summary<br><textarea id=summary maxlength=500 rows=3 "
        "style='width:100%;font:inherit'></textarea></label></p></div>"
        f"</main><script>{_DESK_JS}</script></body></html>\n"
    )


def forbidden_page(role: str) -> str:
    """A page this role may not open."""
    return ("<!doctype html><html lang=zh><meta charset=utf-8><title>403</title>"
            f"<style>{_BASE_CSS}</style><main><h1 id=forbidden>403 无权访问 forbidden</h1>"
            f"<p>此页面不对{'坐席' if role == 'agent' else '值班长'}开放。</p>"
            "<p><a href=/ style='color:#4fa3ff'>返回 back</a></p></main></html>\n")
